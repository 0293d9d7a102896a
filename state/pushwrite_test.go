package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state/pgtest"
)

// A push write (PushLock) at a daemon without the connection's lease
// writes the snapshot and its dirty marks on PostgreSQL; everything else
// the fence guards — the cursor here — stays the holder's, even in the same
// transaction. On SQLite (one daemon) PushLock changes nothing.
func TestPushWriteWithoutTheLease(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir()+"/idsync.db")
	s.Fence("B") // holds no lease
	push := func(tx *Tx) error {
		if err := tx.PushLock("acme"); err != nil {
			return err
		}
		return tx.ApplyChanges("acme", 0, []idsync.Change{idsync.UserChange(idsync.User{ID: "u1", UserName: "u1@acme.test", Status: idsync.StatusActive})})
	}
	err := s.Update(ctx, push)
	if pgtest.Backend() == "sqlite" {
		if !errors.Is(err, ErrNotLeased) {
			t.Fatalf("SQLite: a push write on a fenced store without the lease: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("a push write without the lease: %v", err)
	}
	update(t, s, func(tx *Tx) error {
		users, _, err := tx.Dirty("acme")
		if len(users) != 1 || users[0] != "u1" {
			t.Errorf("dirty users %v, want u1", users)
		}
		return err
	})
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := push(tx); err != nil {
			return err
		}
		return tx.SaveCursor("acme", "x", false)
	}); !errors.Is(err, ErrNotLeased) {
		t.Fatalf("a cursor write in a push transaction without the lease: %v", err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.ClearDirty("acme", nil, nil, true) }); !errors.Is(err, ErrNotLeased) {
		t.Fatalf("clearing dirty marks without the lease: %v", err)
	}
}

// NotifyRun at one daemon reaches ListenRuns at another on the same state,
// and not a listener on a state in another schema of the database.
func TestNotifyRunReachesTheListener(t *testing.T) {
	if pgtest.Backend() == "sqlite" {
		t.Skip("PostgreSQL only")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := t.TempDir() + "/idsync.db"
	a, b := open(t, path), open(t, path)
	elsewhere := open(t, t.TempDir()+"/other.db")
	got, stray := make(chan string, 8), make(chan string, 8)
	ready := make(chan struct{}, 2)
	go a.ListenRuns(ctx, func() { ready <- struct{}{} }, func(conn string) { got <- conn })
	go elsewhere.ListenRuns(ctx, func() { ready <- struct{}{} }, func(conn string) { stray <- conn })
	<-ready
	<-ready
	if err := b.NotifyRun(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	select {
	case conn := <-got:
		if conn != "acme" {
			t.Fatalf("listener heard %q, want acme", conn)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the listener never heard the run request")
	}
	// A request of the other schema's own comes after ours would have:
	// when it arrives, ours would have arrived too.
	if err := elsewhere.NotifyRun(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	select {
	case conn := <-stray:
		if conn != "mine" {
			t.Fatalf("a listener on another schema heard %q", conn)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the other schema's listener never heard its own request")
	}
}

// A push at another daemon that comes while the holder plans (between its
// read of the dirty marks and its ClearDirty) waits for the plan to commit
// and then marks its user anew: its change is planned by the next run, not
// lost.
func TestPushDuringAPlanKeepsItsMark(t *testing.T) {
	if pgtest.Backend() == "sqlite" {
		t.Skip("PostgreSQL only (SQLite: one daemon, one connection)")
	}
	ctx := context.Background()
	path := t.TempDir() + "/idsync.db"
	// watch reads pg_locks: the holder's one connection is the plan's.
	holder, other, watch := open(t, path), open(t, path), open(t, path)
	holder.Fence("A")
	other.Fence("B")
	tok, ok, err := holder.Acquire(ctx, "acme", "A", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	holder.Grant("acme", tok)
	plan, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Rollback()
	if _, _, err := plan.Dirty("acme"); err != nil {
		t.Fatal(err)
	}
	pushed := make(chan error, 1)
	go func() {
		pushed <- other.Update(ctx, func(tx *Tx) error {
			if err := tx.PushLock("acme"); err != nil {
				return err
			}
			return tx.ApplyChanges("acme", 0, []idsync.Change{idsync.UserChange(idsync.User{ID: "u1", UserName: "u1@acme.test", Status: idsync.StatusActive})})
		})
	}()
	// The push waits for the plan's push lock (seen in pg_locks).
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := watch.View(ctx, func(tx *Tx) error {
			return tx.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting)
		}); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-pushed:
			t.Fatalf("the push committed during the plan: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the push never waited for the plan")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := plan.ClearDirty("acme", nil, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := plan.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	update(t, holder, func(tx *Tx) error {
		users, _, err := tx.Dirty("acme")
		if len(users) != 1 || users[0] != "u1" {
			t.Errorf("dirty users after the plan and the push %v, want u1", users)
		}
		return err
	})
}
