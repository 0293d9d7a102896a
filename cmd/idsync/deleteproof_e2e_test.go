package main

import (
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/sources/okta/oktatest"
)

// Deletes only on proof: a user missing from a full read is deleted only
// when the recycle bin does not have it either. These run the built binary
// against the emulators with the default deprovision policy
// (soft_deleted: disable, deleted: delete) and no safety limits, so a wrong
// delete would be applied.

// step runs one idsync command, then checks the plan output and the whole
// workspace (want is updated in place: "" = the account is gone).
func (e *e2e) step(name string, args []string, code int, plan []string, want map[string]string, changes map[string]string) {
	e.t.Helper()
	r := e.idsync(args...)
	if r.code != code {
		e.t.Fatalf("%s: idsync %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, line := range plan {
		if !strings.Contains(r.stdout, line) {
			e.t.Fatalf("%s: plan lacks %q:\n%s", name, line, r.stdout)
		}
	}
	for k, v := range changes {
		if v == "" {
			delete(want, k)
		} else {
			want[k] = v
		}
	}
	if got := e.workspace(); !maps.Equal(got, want) {
		e.t.Fatalf("%s: workspace\n got %v\nwant %v\nstdout:\n%s", name, got, want, r.stdout)
	}
}

const erin = "erin.evans@contoso.test"

var (
	syncFull  = []string{"sync", "--full", "--detailed-exitcode"}
	syncPlain = []string{"sync", "--detailed-exitcode"}
)

// Soft-deleted since the last incremental run, then a full read: the user
// is in the recycle bin, not deleted.
func TestEntraSoftDeleteThenFullSyncDisables(t *testing.T) {
	e := newE2E(t, noLimits)
	e.must([]string{"sync"})
	want := maps.Clone(sampleWorkspace)
	if err := e.tenant.SoftDeleteUser(e.user("erin.evans")); err != nil {
		t.Fatal(err)
	}
	e.step("soft delete, full sync", syncFull, exitChanges, []string{"- disable  " + erin, "(in the Entra recycle bin)"}, want,
		map[string]string{erin: "active=false role=reader"})
	// Still in the bin at the next full read: nothing to do.
	e.step("full sync again", syncFull, exitOK, []string{"0 to create, 0 to update"}, want, nil)
	if err := e.tenant.RestoreUser(e.user("erin.evans")); err != nil {
		t.Fatal(err)
	}
	e.step("restore", syncPlain, exitChanges, []string{"+ enable   " + erin}, want, map[string]string{erin: "active=true role=reader"})
}

// Absent from both the full read and the recycle bin: deleted, whether
// the user was live or soft-deleted before (the bin is purged after 30
// days), but only after a read that listed the bin.
func TestEntraAbsentFromReadAndBinDeletes(t *testing.T) {
	e := newE2E(t, noLimits)
	e.must([]string{"sync"})
	want := maps.Clone(sampleWorkspace)
	if err := e.tenant.SoftDeleteUser(e.user("erin.evans")); err != nil {
		t.Fatal(err)
	}
	e.step("soft delete", syncPlain, exitChanges, []string{"- disable  " + erin}, want, map[string]string{erin: "active=false role=reader"})
	// Purged from the bin, and oscar deleted for good, with no incremental
	// run in between to report either.
	if err := e.tenant.HardDeleteUser(e.user("erin.evans")); err != nil {
		t.Fatal(err)
	}
	if err := e.tenant.HardDeleteUser(e.user("oscar.olsen")); err != nil {
		t.Fatal(err)
	}
	// A full read whose recycle bin listing fails proves nothing: the run
	// fails, nothing is swept or deleted.
	e.tenant.FailNext("directory/deletedItems", http.StatusInternalServerError, 1)
	e.step("bin unreadable", syncFull, exitError, nil, want, nil)
	e.step("purged from the bin", syncFull, exitChanges, []string{"- delete   " + erin, "- delete   oscar.olsen@contoso.test", "(deleted in Entra)"}, want,
		map[string]string{erin: "", "oscar.olsen@contoso.test": ""})
}

// Soft-deleted while the delta cursor expires: the full read that follows
// finds the user in the bin.
func TestEntraSoftDeleteDuringCursorExpiryDisables(t *testing.T) {
	e := newE2E(t, noLimits)
	e.must([]string{"sync"})
	want := maps.Clone(sampleWorkspace)
	if err := e.tenant.SoftDeleteUser(e.user("erin.evans")); err != nil {
		t.Fatal(err)
	}
	e.tenant.ExpireDeltaTokens()
	e.step("soft delete, cursor expired", syncPlain, exitChanges, []string{"- disable  " + erin, "(in the Entra recycle bin)"}, want,
		map[string]string{erin: "active=false role=reader"})
}

// A partial delta entry whose re-read answers 404: the recycle bin says
// how the user went.
func TestEntraReReadNotFoundAsksRecycleBin(t *testing.T) {
	e := newE2E(t, noLimits)
	e.tenant.PartialUpdates = true
	e.must([]string{"sync"})
	want := maps.Clone(sampleWorkspace)
	for _, tc := range []struct {
		name, user string
		remove     func(string) error
		plan       string
		change     string
	}{
		{"soft-deleted before the re-read", "erin.evans", e.tenant.SoftDeleteUser, "- disable  ", "active=false role=reader"},
		{"deleted for good before the re-read", "oscar.olsen", e.tenant.HardDeleteUser, "- delete   ", ""},
	} {
		id, upn := e.user(tc.user), tc.user+"@contoso.test"
		if err := e.tenant.UpdateUser(id, func(u *entratest.User) { u.JobTitle = "Renamed" }); err != nil {
			t.Fatal(err)
		}
		removed := make(chan error, 1)
		e.tenant.BeforeNext("users/{id}", func() { removed <- tc.remove(id) })
		e.step(tc.name, syncPlain, exitChanges, []string{tc.plan + upn}, want, map[string]string{upn: tc.change})
		select {
		case err := <-removed:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: the sync never re-read the user", tc.name)
		}
	}
}

// Okta: a deactivated user is listed by a full read (disabled); a deleted
// one, which Okta must have deactivated first, is in no listing: absent
// from a full read means deleted.
func TestOktaFullReadAbsenceAfterDeactivationDeletes(t *testing.T) {
	e := newOktaE2E(t, false, func(oktatest.Sample) string { return oktaScopeGroups }, noLimits)
	e.must([]string{"sync"})
	want := maps.Clone(oktaGroupWorkspace)
	e.org.Deactivate(e.uid("bob"))
	e.org.Deactivate(e.uid("carol"))
	e.org.DeleteUser(e.uid("carol"))
	e.step("deactivated and deleted, full sync", syncFull, exitChanges,
		[]string{"- disable  bob@globex.test", "(account disabled in Okta)", "- delete   carol@globex.test", "(deleted in Okta)"}, want,
		map[string]string{"bob@globex.test": "active=false role=reader", "carol@globex.test": ""})
	e.step("full sync again", syncFull, exitOK, []string{"0 to create, 0 to update"}, want, nil)
}
