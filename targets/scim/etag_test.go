package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// changeOps are the update, role and enable ops one plan makes for a user
// whose title and role changed while it was disabled.
func changeOps(id string, prev *idsync.Account) []idsync.Op {
	want := *prev
	want.Title, want.Role, want.Active = "Director", "admin", true
	base := idsync.Op{ObjectID: prev.ExternalID, TargetID: id, Prev: prev, Account: &want}
	upd, role, on := base, base, base
	upd.Kind, upd.Changes = idsync.OpUpdate, idsync.DiffAttributes(*prev, want)
	role.Kind = idsync.OpSetRole
	on.Kind = idsync.OpEnable
	return []idsync.Op{upd, role, on}
}

// With update_method: put, a change made in the workspace between idsync's
// GET and PUT is not overwritten: the PUT carries If-Match, the workspace
// answers 412, and idsync starts over from a fresh GET.
func TestPutIfMatchKeepsConcurrentChange(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	var id string
	edits := 0
	hc := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut && edits == 0 {
			edits++ // an admin renames the account while idsync holds its GET
			srv.EditUser(id, func(raw map[string]any) { raw["displayName"] = "Set by an admin" })
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newClient(t, srv, func(c *scim.Config) { c.UpdateMethod = "put"; c.HTTPClient = hc })
	prev := account("u1", "oli@example.com")
	prev.Role = "member"
	id = apply(t, c, createOp(prev)).TargetID
	srv.ResetRequests()
	apply(t, c, changeOps(id, prev)[0]) // the title

	u := mustUser(t, srv, id)
	if u.DisplayName != "Set by an admin" || u.Title != "Director" {
		t.Fatalf("after a concurrent change: %+v (the PUT lost one of the two changes)", u)
	}
	var statuses []int
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPut {
			statuses = append(statuses, r.Status)
			if r.Header.Get("If-Match") == "" {
				t.Errorf("PUT without If-Match although the GET returned an ETag")
			}
		}
	}
	if len(statuses) != 2 || statuses[0] != http.StatusPreconditionFailed || statuses[1] != http.StatusOK {
		t.Errorf("PUT statuses %v, want [412 200]", statuses)
	}
}

// An account that changes before every PUT is given up after a bounded
// number of rounds, as a retryable error (the engine tries again later).
func TestPutIfMatchBounded(t *testing.T) {
	srv := newServer(t, scimtest.Options{})
	var id string
	hc := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut {
			srv.EditUser(id, func(raw map[string]any) { raw["displayName"] = raw["displayName"].(string) + "!" })
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newClient(t, srv, func(c *scim.Config) { c.UpdateMethod = "put"; c.HTTPClient = hc })
	prev := account("u1", "pat@example.com")
	id = apply(t, c, createOp(prev)).TargetID
	srv.ResetRequests()
	_, err := c.Apply(context.Background(), changeOps(id, prev)[0])
	if retry, _ := targets.Retryable(err); !retry || !strings.Contains(err.Error(), "412") {
		t.Fatalf("error = %v, want a retryable 412", err)
	}
	if n := srv.CountRequests(http.MethodPut, "/"); n != 3 {
		t.Errorf("%d PUTs, want 3", n)
	}
}

// A workspace without ETags gets no If-Match.
func TestPutWithoutETags(t *testing.T) {
	srv := newServer(t, scimtest.Options{NoETags: true})
	c := newClient(t, srv, func(c *scim.Config) { c.UpdateMethod = "put" })
	prev := account("u1", "quin@example.com")
	id := apply(t, c, createOp(prev)).TargetID
	srv.ResetRequests()
	apply(t, c, changeOps(id, prev)[0])
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPut && r.Header.Get("If-Match") != "" {
			t.Errorf("PUT with If-Match %q to a workspace without ETags", r.Header.Get("If-Match"))
		}
	}
	if u := mustUser(t, srv, id); u.Title != "Director" {
		t.Fatalf("%+v", u)
	}
}
