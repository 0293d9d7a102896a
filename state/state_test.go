package state

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), loc(t, path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func update(t *testing.T, s *Store, f func(*Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), f); err != nil {
		t.Fatal(err)
	}
}

func TestMigrationsApplyOnce(t *testing.T) {
	path := t.TempDir() + "/idsync.db"
	s := open(t, path)
	update(t, s, func(tx *Tx) error { return tx.SaveCursor("acme", "c1", false) })
	s.Close()
	s = open(t, path) // reopening must not re-run migrations or lose data
	var n int
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM migrations`).Scan(&n); err != nil || n != len(files) {
		t.Fatalf("migrations recorded: %d (%v), want %d", n, err, len(files))
	}
	update(t, s, func(tx *Tx) error {
		c, err := tx.Cursor("acme")
		if c.Cursor != "c1" {
			t.Fatalf("cursor after reopen: %+v", c)
		}
		return err
	})
}

func TestCursorAndGenerations(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	s.Now = func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }
	update(t, s, func(tx *Tx) error {
		for want := int64(1); want <= 3; want++ {
			if g, err := tx.NextGeneration("acme"); err != nil || g != want {
				t.Fatalf("generation %d, want %d (%v)", g, want, err)
			}
		}
		if c, _ := tx.Cursor("acme"); c.Cursor != "" || !c.UpdatedAt.IsZero() {
			t.Fatalf("a started pull saved a cursor: %+v", c)
		}
		if err := tx.SaveCursor("acme", "next", true); err != nil {
			return err
		}
		if err := tx.SaveCursor("acme", "next2", false); err != nil {
			return err
		}
		c, err := tx.Cursor("acme")
		if c.Cursor != "next2" || c.FullAt.IsZero() || !c.UpdatedAt.Equal(s.Now()) {
			t.Fatalf("cursor %+v", c)
		}
		if g, _ := tx.NextGeneration("acme"); g != 4 {
			t.Fatalf("saving a cursor reset the generation to %d", g)
		}
		return err
	})
}

func TestApplyChangesMarksOnlyRealChanges(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	alice := idsync.User{ID: "u1", UserName: "alice@x", Status: idsync.StatusActive}
	update(t, s, func(tx *Tx) error {
		return tx.ApplyChanges("acme", 1, []idsync.Change{idsync.UserChange(alice), idsync.GroupChange(idsync.Group{ID: "g1", Name: "Staff"}),
			idsync.MemberAddedChange("g1", "u1", idsync.MemberUser)})
	})
	dirty := func() ([]string, []string) {
		var u, g []string
		update(t, s, func(tx *Tx) (err error) { u, g, err = tx.Dirty("acme"); return err })
		return u, g
	}
	if u, _ := dirty(); !slices.Equal(u, []string{"u1"}) {
		t.Fatalf("dirty users %q", u)
	}
	update(t, s, func(tx *Tx) error { return tx.ClearDirty("acme", nil, nil, true) })

	// The same facts again (a full re-read) mark nothing.
	update(t, s, func(tx *Tx) error {
		return tx.ApplyChanges("acme", 2, []idsync.Change{idsync.UserChange(alice), idsync.GroupChange(idsync.Group{ID: "g1", Name: "Staff"}),
			idsync.MemberAddedChange("g1", "u1", idsync.MemberUser)})
	})
	if u, g := dirty(); len(u)+len(g) != 0 {
		t.Fatalf("a re-read of unchanged data marked %q %q", u, g)
	}
	alice.Title = "CTO"
	update(t, s, func(tx *Tx) error {
		return tx.ApplyChanges("acme", 3, []idsync.Change{idsync.UserChange(alice), idsync.GroupChange(idsync.Group{ID: "g1", Name: "Everyone"})})
	})
	if u, g := dirty(); !slices.Equal(u, []string{"u1"}) || !slices.Equal(g, []string{"g1"}) {
		t.Fatalf("after a change: %q %q", u, g)
	}
	update(t, s, func(tx *Tx) error {
		us, err := tx.Users("acme", []string{"u1", "missing"})
		if len(us) != 1 || us[0] != alice {
			t.Fatalf("users %+v", us)
		}
		return err
	})
	// Other connections are untouched.
	update(t, s, func(tx *Tx) error {
		c, err := tx.Counts("globex")
		if c != (SnapshotCounts{}) {
			t.Fatalf("globex counts %+v", c)
		}
		return err
	})
}

func TestSweepAfterFullRead(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	update(t, s, func(tx *Tx) error {
		return tx.ApplyChanges("acme", 1, []idsync.Change{
			idsync.UserChange(idsync.User{ID: "u1", UserName: "a"}), idsync.UserChange(idsync.User{ID: "u2", UserName: "b"}),
			idsync.UserChange(idsync.User{ID: "u3", UserName: "c"}), idsync.UserRemovedChange("u3", idsync.RemovalSoft),
			idsync.UserChange(idsync.User{ID: "u4", UserName: "d"}), idsync.UserRemovedChange("u4", idsync.RemovalSoft),
			idsync.UserChange(idsync.User{ID: "u5", UserName: "e"}),
			idsync.GroupChange(idsync.Group{ID: "g1", Name: "Staff"}), idsync.GroupChange(idsync.Group{ID: "g2", Name: "Old"}),
			idsync.MemberAddedChange("g1", "u1", idsync.MemberUser), idsync.MemberAddedChange("g1", "u2", idsync.MemberUser),
			idsync.AssignedChange(idsync.Assignment{PrincipalID: "u1", Role: "Admin"}),
		})
	})
	update(t, s, func(tx *Tx) error { return tx.ClearDirty("acme", nil, nil, true) })
	// Generation 2 sees u1, g1 and u1's membership live, u3 (still) and u5
	// (newly) in the recycle bin; u2 and u4 are in neither.
	update(t, s, func(tx *Tx) error {
		if err := tx.ApplyChanges("acme", 2, []idsync.Change{idsync.UserChange(idsync.User{ID: "u1", UserName: "a"}),
			idsync.GroupChange(idsync.Group{ID: "g1", Name: "Staff"}), idsync.MemberAddedChange("g1", "u1", idsync.MemberUser),
			idsync.UserRemovedChange("u3", idsync.RemovalSoft), idsync.UserRemovedChange("u5", idsync.RemovalSoft)}); err != nil {
			return err
		}
		return tx.Sweep("acme", 2)
	})
	update(t, s, func(tx *Tx) error {
		us, err := tx.AllUsers("acme")
		removed := map[string]idsync.Removal{}
		for _, u := range us {
			removed[u.ID] = u.Removed
		}
		want := map[string]idsync.Removal{"u1": "", "u2": idsync.RemovalHard, "u3": idsync.RemovalSoft, "u4": idsync.RemovalHard, "u5": idsync.RemovalSoft}
		if !maps.Equal(removed, want) {
			t.Fatalf("after sweep: %v, want %v (in the recycle bin: soft; in neither the read nor the bin: hard)", removed, want)
		}
		users, _, err := tx.Dirty("acme")
		if !slices.Equal(users, []string{"u1", "u2", "u4", "u5"}) { // u1 lost its assignment
			t.Fatalf("dirty users %v, want u1, u2, u4, u5 (u3 was soft-deleted before)", users)
		}
		gs, _ := tx.Groups("acme")
		ug, _ := tx.UserGroups("acme", nil)
		as, _ := tx.Assignments("acme", nil)
		if len(gs) != 1 || len(ug["u2"]) != 0 || len(ug["u1"]) != 1 || len(as) != 0 {
			t.Fatalf("groups %v memberships %v assignments %v", gs, ug, as)
		}
		return err
	})
}

func TestOutboxHeldAndLog(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	update(t, s, func(tx *Tx) error {
		run, err := tx.StartRun("acme", "incremental")
		if err != nil {
			return err
		}
		ops, err := tx.Enqueue("acme", run, []idsync.Op{{Kind: idsync.OpCreate, ObjectID: "u1"}, {Kind: idsync.OpDelete, ObjectID: "u2"}})
		if err != nil {
			return err
		}
		if ops[0].ID == ops[1].ID || ops[0].ID == "" {
			t.Fatalf("op ids %q %q", ops[0].ID, ops[1].ID)
		}
		p, err := tx.Outbox("acme")
		if len(p) != 2 || p[0].Op.ID != ops[0].ID {
			t.Fatalf("outbox %+v", p)
		}
		if err := tx.Done("acme", p[0].Seq); err != nil {
			return err
		}
		if n, _ := tx.OutboxLen("acme"); n != 1 {
			t.Fatalf("outbox len %d", n)
		}
		if err := tx.Hold("acme", run, "too many", idsync.Plan{Connection: "acme", Ops: ops}); err != nil {
			return err
		}
		if h, _ := tx.Held("acme"); h == nil || h.Reason != "too many" || len(h.Plan.Ops) != 2 {
			t.Fatalf("held %+v", h)
		}
		if err := tx.AddEvent(Event{RunID: run, Connection: "acme", Kind: "create", ObjectID: "u1", Name: "Alice@x", Result: "applied"}); err != nil {
			return err
		}
		if err := tx.FinishRun(Run{ID: run, Result: RunHeld, Planned: 2}); err != nil {
			return err
		}
		ev, _ := tx.Events(Filter{User: "alice@X"})
		runs, _ := tx.Runs(Filter{Connection: "acme"})
		none, _ := tx.Events(Filter{Connection: "globex"})
		if len(ev) != 1 || len(runs) != 1 || runs[0].Result != RunHeld || len(none) != 0 {
			t.Fatalf("events %+v runs %+v", ev, runs)
		}
		return err
	})
}

func TestRunOps(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir()+"/idsync.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []int64
	err = s.Update(ctx, func(tx *Tx) error {
		for range 3 {
			id, err := tx.StartRun("acme", "incremental")
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		for _, e := range []Event{
			{RunID: ids[0], Kind: "create", Result: "applied"}, {RunID: ids[0], Kind: "create", Result: "applied"},
			{RunID: ids[1], Kind: "create", Result: "failed"}, {RunID: ids[1], Kind: "delete", Result: "applied"},
			{RunID: ids[2], Kind: "update", Result: "applied"},
		} {
			e.Connection = "acme"
			if err := tx.AddEvent(e); err != nil {
				return err
			}
		}
		return tx.AddEvent(Event{RunID: ids[1], Connection: "other", Kind: "create", Result: "applied"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []OpCount
	if err := s.View(ctx, func(tx *Tx) (err error) {
		got, err = tx.RunOps("acme", ids[0], ids[1])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []OpCount{{ids[0], "create", "applied", 2}, {ids[1], "create", "failed", 1}, {ids[1], "delete", "applied", 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("RunOps = %v, want %v", got, want)
	}
}

// A plan of several INSERT batches (marshalled ahead of them on another
// goroutine) is enqueued whole and in order: the pending ops returned are
// what Outbox reads back, seqs consecutive after what was there. A plan
// that fails to enqueue leaves the transaction's error, not a hang.
func TestEnqueuePendingInBatches(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	var ops []idsync.Op
	for i := range 300 { // 128 + 128 + 32 + 8 + 4
		ops = append(ops, idsync.Op{Kind: idsync.OpCreate, ObjectID: fmt.Sprintf("u%03d", i),
			Account: &idsync.Account{ExternalID: fmt.Sprintf("u%03d", i), UserName: fmt.Sprintf("u%03d@x.test", i), Active: true}})
	}
	update(t, s, func(tx *Tx) error {
		run, err := tx.StartRun("acme", "full")
		if err != nil {
			return err
		}
		if _, err := tx.Enqueue("acme", run, ops[:1]); err != nil {
			return err
		}
		ps, err := tx.EnqueuePending("acme", run, ops)
		if err != nil {
			return err
		}
		back, err := tx.Outbox("acme")
		if err != nil {
			return err
		}
		if len(ps) != len(ops) || len(back) != len(ops)+1 {
			t.Fatalf("enqueued %d, outbox holds %d", len(ps), len(back))
		}
		for i, p := range ps {
			if p.Seq != int64(i+2) || !reflect.DeepEqual(p, back[i+1]) {
				t.Fatalf("pending op %d: %+v, read back %+v", i, p, back[i+1])
			}
		}
		return nil
	})
}

// An INSERT that fails mid-plan ends the enqueue with its error (the
// marshalling goroutine ahead of it stops) and the transaction writes
// nothing.
func TestEnqueueFailureMidPlan(t *testing.T) {
	sqliteOnly(t) // the failure is a SQLite trigger
	s := open(t, t.TempDir()+"/idsync.db")
	var ops []idsync.Op
	for i := range 1000 {
		ops = append(ops, idsync.Op{Kind: idsync.OpCreate, ObjectID: fmt.Sprintf("u%03d", i)})
	}
	update(t, s, func(tx *Tx) error {
		_, err := tx.exec(`CREATE TRIGGER boom BEFORE INSERT ON outbox WHEN NEW.seq = 300 BEGIN SELECT RAISE(ABORT, 'boom'); END`)
		return err
	})
	err := s.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.EnqueuePending("acme", 1, ops)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("enqueue over a failing INSERT: %v", err)
	}
	update(t, s, func(tx *Tx) error {
		if n, err := tx.OutboxLen("acme"); err != nil || n != 0 {
			t.Fatalf("outbox holds %d after the failed enqueue (%v)", n, err)
		}
		return nil
	})
}
