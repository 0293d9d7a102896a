package main

import (
	"context"
	"fmt"
	"net/http"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// liveSource answers every pull with a full read of its users and one group,
// as the directory stands at that moment.
type liveSource struct {
	mu      stdsync.Mutex
	users   []idsync.User
	group   idsync.Group
	members map[string]bool
}

func (s *liveSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	s.mu.Lock()
	page := []idsync.Change{idsync.GroupChange(s.group)}
	for _, u := range s.users {
		page = append(page, idsync.UserChange(u))
		if s.members[u.ID] {
			page = append(page, idsync.MemberAddedChange(s.group.ID, u.ID, idsync.MemberUser))
		}
	}
	s.mu.Unlock()
	return "c", true, emit(page)
}

// With update_method: put, a title change and a role change of one user in
// one run both land, every time: the engine sends one user's ops one at a
// time and the SCIM client merges them into one GET + PUT. The workspace is
// slow (a few ms a request) so an engine that sent the two at once would
// have both GETs answered before either PUT, and lose one of the changes.
func TestPutTitleAndRoleChangeBothLand(t *testing.T) {
	const iterations = 50
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken"})
	defer ws.Close()
	ws.SetLatency(3 * time.Millisecond)
	client, err := scim.New(scim.Config{URL: ws.URL, Token: "t0ken", RateLimit: scim.Rate(0), Concurrency: 4, UpdateMethod: "put"})
	if err != nil {
		t.Fatal(err)
	}
	src := &liveSource{group: idsync.Group{ID: "g-admins", Name: "Admins"}, members: map[string]bool{}}
	for i := range 3 {
		src.users = append(src.users, idsync.User{ID: fmt.Sprintf("u%d", i), UserName: fmt.Sprintf("user%d@acme.test", i),
			GivenName: "G", FamilyName: "F", Title: "Title 0", Status: idsync.StatusActive})
	}
	st, err := state.Open(context.Background(), t.TempDir()+"/idsync.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	engine := sync.New(st, nil)
	conn := &sync.Connection{Name: "acme", SourceType: "entra", Source: src, Target: client,
		Policy: sync.Policy{DefaultRole: "member", Rules: []sync.RoleRule{{Group: "Admins", Role: "admin"}}, Deprovision: sync.DefaultDeprovision}}
	if res, err := engine.Run(context.Background(), conn, sync.Options{}); err != nil || res.Applied != 3 {
		t.Fatalf("first run: %v, %+v", err, res)
	}
	ids := map[string]string{}
	for _, u := range ws.Users() {
		ids[u.ExternalID] = u.ID
	}

	for i := 1; i <= iterations; i++ {
		// u0 and u1 change title and role; u2 only its title.
		src.mu.Lock()
		for k := range src.users {
			src.users[k].Title = fmt.Sprintf("Title %d", i)
		}
		admin := i%2 == 1
		src.members["u0"], src.members["u1"] = admin, admin
		src.mu.Unlock()
		ws.ResetRequests()
		res, err := engine.Run(context.Background(), conn, sync.Options{})
		if err != nil || res.Failed != 0 || len(res.Plan.Ops) != 5 {
			t.Fatalf("iteration %d: %v, failed %d, plan %d ops", i, err, res.Failed, len(res.Plan.Ops))
		}
		role := "member"
		if admin {
			role = "admin"
		}
		for ext, id := range ids {
			u, _ := ws.User(id)
			wantRole := role
			if ext == "u2" {
				wantRole = "member"
			}
			if u.Title != fmt.Sprintf("Title %d", i) || u.Role() != wantRole {
				t.Fatalf("iteration %d: %s has title %q role %q, want %q and %q (a change was lost)", i, ext, u.Title, u.Role(), fmt.Sprintf("Title %d", i), wantRole)
			}
			if n := ws.CountRequests(http.MethodPut, "/Users/"+id); n != 1 {
				t.Fatalf("iteration %d: %d PUTs for %s, want one request for its changes", i, n, ext)
			}
		}
		if res, err := engine.Run(context.Background(), conn, sync.Options{}); err != nil || len(res.Plan.Ops) != 0 {
			t.Fatalf("iteration %d: the next run plans %d ops (%v)", i, len(res.Plan.Ops), err)
		}
	}
}
