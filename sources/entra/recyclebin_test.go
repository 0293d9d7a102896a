package entra_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/sources/entra/entratest"
)

// binTenant holds 1,200 users: 1,060 of them soft-deleted and 53 of those
// purged from the bin, which leaves two recycle bin pages (999 + 8).
func binTenant(t *testing.T) (srv *entratest.Server, binned, purged []string) {
	srv = newServer(t)
	srv.Generate(1200, 2)
	for i := range 1060 {
		id, _ := srv.UserID(fmt.Sprintf("user%06d%s", i, domain))
		if err := srv.SoftDeleteUser(id); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			if err := srv.HardDeleteUser(id); err != nil {
				t.Fatal(err)
			}
			purged = append(purged, id)
			continue
		}
		binned = append(binned, id)
	}
	return srv, binned, purged
}

// A full read lists the recycle bin's users (paged), as soft removals,
// before and after the users round; purged users are mentioned nowhere.
func TestPullFullReadListsRecycleBin(t *testing.T) {
	srv, binned, purged := binTenant(t)
	r := mustPull(t, open(t, config(srv)), "")
	if !r.full {
		t.Fatal("full = false")
	}
	soft := map[string]int{}
	live := map[string]bool{}
	for _, c := range r.changes() {
		switch {
		case c.Kind == idsync.ChangeUserRemoved && c.Removal == idsync.RemovalSoft:
			soft[c.ID]++
		case c.Kind == idsync.ChangeUserRemoved:
			t.Errorf("full read reported %s removed %q", c.ID, c.Removal)
		case c.Kind == idsync.ChangeUser:
			live[c.User.ID] = true
		}
	}
	for _, id := range binned {
		if soft[id] != 2 || live[id] {
			t.Errorf("binned %s: %d soft removals (want 2, before and after the users round), live %v", id, soft[id], live[id])
		}
	}
	for _, id := range purged {
		if soft[id] != 0 || live[id] {
			t.Errorf("purged %s mentioned", id)
		}
	}
	if len(soft) != 1007 || len(live) != 140 {
		t.Errorf("%d soft, %d live; want 1007 and 140", len(soft), len(live))
	}
	if n := srv.Calls("deletedItems"); n != 4 {
		t.Errorf("deletedItems calls = %d, want 2 listings of 2 pages", n)
	}
}

// An incremental read does not list the bin (delta reports soft deletes).
func TestPullIncrementalSkipsRecycleBin(t *testing.T) {
	srv := newServer(t)
	srv.LoadSample()
	src := open(t, config(srv))
	r := mustPull(t, src, "")
	before := srv.Calls("deletedItems")
	mustPull(t, src, r.next)
	if n := srv.Calls("deletedItems") - before; n != 0 {
		t.Errorf("incremental read listed the recycle bin %d times", n)
	}
}

// A bin that cannot be read fails the pull: nothing may be swept on a read
// that could not tell soft-deleted users from deleted ones.
func TestPullRecycleBinFailureFailsPull(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(srv *entratest.Server)
		want   string
	}{
		{"first listing", func(srv *entratest.Server) { srv.FailNext("directory/deletedItems", http.StatusInternalServerError, 1) }, "recycle bin"},
		{"second page", func(srv *entratest.Server) { srv.FailPage("deletedItems", 2, http.StatusInternalServerError) }, "page 2"},
		{"listing after the users round", func(srv *entratest.Server) {
			srv.BeforeNext("users/delta", func() { srv.FailNext("directory/deletedItems", http.StatusBadGateway, 1) })
		}, "recycle bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, _ := binTenant(t)
			src := open(t, config(srv))
			tc.inject(srv)
			r := pull(src, "")
			if r.err == nil || r.next != "" || r.full {
				t.Fatalf("err = %v, next = %q, full = %v; want a failed pull", r.err, r.next, r.full)
			}
			if !strings.Contains(r.err.Error(), tc.want) {
				t.Errorf("error does not say where: %v", r.err)
			}
			mustPull(t, src, "")
		})
	}
	t.Run("permission", func(t *testing.T) {
		srv, _, _ := binTenant(t)
		srv.FailNext("directory/deletedItems", http.StatusForbidden, 1)
		r := pull(open(t, config(srv)), "")
		if !errors.Is(r.err, sources.ErrUnauthorized) || !strings.Contains(r.err.Error(), "User.Read.All") {
			t.Errorf("err = %v, want ErrUnauthorized naming User.Read.All", r.err)
		}
	})
}

// A user who moves between the directory and the recycle bin during a full
// read is mentioned: seen live by the users round or in the bin by the
// listing before or after it. (Deleted for good during the read, it may
// still be reported soft: the next round reports the delete.)
func TestPullFullReadUserMovesDuringRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		binned bool // in the recycle bin when the read starts
		after  bool // moved after the users round (else just before it)
		move   func(srv *entratest.Server, id string) error
		want   string // the last thing the read says about the user
	}{
		{"soft-deleted as the users round starts", false, false, (*entratest.Server).SoftDeleteUser, "soft"},
		{"restored as the users round starts", true, false, (*entratest.Server).RestoreUser, "live"},
		{"restored after the users round", true, true, (*entratest.Server).RestoreUser, "soft"}, // the next round reports the restore
		{"purged as the users round starts", true, false, (*entratest.Server).HardDeleteUser, "soft"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			sample := srv.LoadSample()
			id := sample.Users["erin.evans"+domain]
			if tc.binned {
				if err := srv.SoftDeleteUser(id); err != nil {
					t.Fatal(err)
				}
			}
			moved := make(chan error, 1)
			move := func() { moved <- tc.move(srv, id) }
			if tc.after { // just before the second listing of the bin
				srv.BeforeNext("users/delta", func() { srv.BeforeNext("deletedItems", move) })
			} else {
				srv.BeforeNext("users/delta", move)
			}
			r := mustPull(t, open(t, config(srv)), "")
			hookRan(t, moved)
			var said []string
			for _, c := range r.changes() {
				switch {
				case c.Kind == idsync.ChangeUser && c.User.ID == id:
					said = append(said, "live")
				case c.Kind == idsync.ChangeUserRemoved && c.ID == id:
					said = append(said, string(c.Removal))
				}
			}
			if len(said) == 0 || said[len(said)-1] != tc.want {
				t.Errorf("the read said %v about the user, want it to end with %s", said, tc.want)
			}
		})
	}
}

// hookRan fails the test unless the BeforeNext hook that sends on ch ran
// during the pull that just returned (so before the pull's answer).
func hookRan(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatal("the change planned between two requests never happened: the pull did not make the request it waits for")
	}
}
