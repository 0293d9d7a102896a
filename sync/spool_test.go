package sync

import (
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/idsync/idsync"
)

// A spool gives back the pages it was given, in order, and leaves no file
// in the temporary directory even while it is open (a SIGKILL leaves nothing).
func TestPageSpoolRoundTrip(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	s, err := newPageSpool()
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(os.Getenv("TMPDIR")); len(left) != 0 {
		t.Fatalf("spool file left in TMPDIR while open: %v", left)
	}
	pages := [][]idsync.Change{
		{idsync.UserChange(idsync.User{ID: "u1", UserName: "a@x", Status: idsync.StatusActive}), idsync.UserRemovedChange("u0", idsync.RemovalSoft)},
		{idsync.GroupChange(idsync.Group{ID: "g1", Name: "G"}), {Kind: idsync.ChangeMemberAdded, GroupID: "g1", MemberID: "u1", MemberKind: idsync.MemberUser}},
		{{Kind: idsync.ChangeAssigned, Assignment: &idsync.Assignment{PrincipalID: "g1", PrincipalKind: idsync.MemberGroup, Role: "admin"}}, {Kind: idsync.ChangeSweep, Sweep: idsync.SweepAssignments}},
	}
	for _, p := range pages {
		if err := s.put(p); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]idsync.Change
	if err := s.each(func(p []idsync.Change) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, pages) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, pages)
	}
	if s.f != nil {
		t.Fatal("each did not close the spool")
	}
}

// An error from the writer stops the read-back and is returned.
func TestPageSpoolStopsOnError(t *testing.T) {
	s, err := newPageSpool()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.put([]idsync.Change{idsync.UserChange(idsync.User{ID: "u"})}); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := s.each(func([]idsync.Change) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("each = %v after %d pages, want stop after 1", err, n)
	}
}

// The spool's encoding names every field: a field added to these types must
// be added to appendPage and readPage too.
func TestPageSpoolCoversEveryField(t *testing.T) {
	for typ, n := range map[reflect.Type]int{
		reflect.TypeFor[idsync.Change](): 10, reflect.TypeFor[idsync.User](): 11,
		reflect.TypeFor[idsync.Group](): 4, reflect.TypeFor[idsync.Assignment](): 3,
	} {
		if typ.NumField() != n {
			t.Errorf("%s has %d fields, the spool encodes %d: update sync/spool.go", typ, typ.NumField(), n)
		}
	}
}
