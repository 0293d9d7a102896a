package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// Whimsical: "After user creation, given name and family name fields can
// only be updated by the users themselves". A renamed IdP user is no op in
// the plan and no request to the workspace (the strict workspace would
// refuse a name change); a rename together with a change Whimsical takes
// is an update of that change alone.
func TestWhimsicalNamesAreNotPlannedAfterCreation(t *testing.T) {
	ws := scimtest.NewServer(scimtest.Options{Token: "t0ken", Preset: "whimsical", Strict: true})
	defer ws.Close()
	f := newFirstSync(t, ws, 5)
	for i := range f.src {
		f.src[i].DisplayName = "Someone" // set, so a rename does not change it
	}
	e, st := f.engine()
	conn := f.conn(newSCIM(t, ws, func(c *scim.Config) { c.Preset = "whimsical" }))
	ctx := context.Background()
	if res, err := e.Run(ctx, conn, sync.Options{}); err != nil || res.Applied != 5 || res.Failed != 0 {
		t.Fatalf("first sync: %v, %+v", err, res)
	}
	f.check(st)

	// Renamed in the IdP: given and family name only.
	f.src[1].GivenName, f.src[1].FamilyName = "Grace", "Hopper"
	ws.ResetRequests()
	dry, err := e.Run(ctx, conn, sync.Options{DryRun: true})
	if err != nil || len(dry.Plan.Ops) != 0 {
		t.Fatalf("dry run after a rename: %v, plan %+v", err, dry.Plan.Ops)
	}
	res, err := e.Run(ctx, conn, sync.Options{})
	if err != nil || len(res.Plan.Ops) != 0 || res.Applied != 0 || res.Failed != 0 {
		t.Fatalf("run after a rename: %v, plan %+v", err, res.Plan.Ops)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if n := ws.CountRequests(m, "/"); n != 0 {
			t.Errorf("a rename Whimsical does not take sent %d %s requests", n, m)
		}
	}

	// Renamed, and a new displayName (which Whimsical takes): one update
	// carrying the displayName alone.
	f.src[2].GivenName, f.src[2].DisplayName = "Ada", "Ada Lovelace"
	ws.ResetRequests()
	res, err = e.Run(ctx, conn, sync.Options{})
	if err != nil || len(res.Plan.Ops) != 1 || res.Applied != 1 || res.Failed != 0 {
		t.Fatalf("run after a rename and a displayName: %v, applied %d, failed %d, plan %+v", err, res.Applied, res.Failed, res.Plan.Ops)
	}
	op := res.Plan.Ops[0]
	if op.Kind != idsync.OpUpdate || len(op.Changes) != 1 || op.Changes[0].Field != idsync.AttrDisplayName {
		t.Fatalf("planned %s with changes %+v, want an update of displayName alone", op.Kind, op.Changes)
	}
	if n := ws.CountRequests(http.MethodPatch, "/Users"); n != 1 {
		t.Errorf("%d PATCH requests, want 1", n)
	}
	if u, _ := ws.UserByName("user00002@acme.test"); u.DisplayName != "Ada Lovelace" || u.GivenName != "G" {
		t.Errorf("workspace account %+v: want displayName updated, givenName as created", u)
	}
}
