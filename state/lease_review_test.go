package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idsync/idsync/state/pgtest"
)

// A daemon's renewal must not wait for its own fenced transactions: the
// fence holds the lease row for the length of the transaction (a page of a
// full read, a large plan), and a renewal queued behind it finds the lease
// expired once it runs — a healthy daemon loses every connection whose
// transaction outlasts the lease. A takeover, though, must still wait for
// the fenced transaction to end (else the ex-holder commits after it).
func TestRenewalNotStarvedByFencedTransaction(t *testing.T) {
	if pgtest.Backend() != "postgres" {
		t.Skip("PostgreSQL only: SQLite stores are not shared by daemons")
	}
	ctx := context.Background()
	path := t.TempDir() + "/idsync.db"
	a, b := open(t, path), open(t, path)
	a.Fence("A")
	tok, ok, err := a.Acquire(ctx, "acme", "A", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	a.Grant("acme", tok)
	update(t, a, func(tx *Tx) error {
		if err := tx.SaveCursor("acme", "from-a", false); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if ok, err := a.Renew(rctx, "acme", "A", tok, time.Minute); err != nil || !ok {
			t.Errorf("A's renewal during A's fenced transaction: %v %v (it waited for the transaction)", ok, err)
		}
		// The lease ends (released here, as an expiry would): B's takeover
		// waits until A's transaction has committed.
		rctx2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
		defer cancel2()
		if err := a.Release(rctx2, "acme", "A", tok); err != nil {
			t.Errorf("release during A's fenced transaction: %v", err)
		}
		bctx, cancel3 := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel3()
		if _, ok, err := b.Acquire(bctx, "acme", "B", time.Minute); ok {
			t.Errorf("B took the lease while A's fenced transaction was open: %v %v", ok, err)
		}
		return nil
	})
	tokB, ok, err := b.Acquire(ctx, "acme", "B", time.Minute)
	if err != nil || !ok || tokB <= tok {
		t.Fatalf("B's takeover after A's commit: %d %v %v", tokB, ok, err)
	}
	if err := a.Update(ctx, func(tx *Tx) error { return tx.SaveCursor("acme", "late", false) }); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("A's write after the takeover: %v", err)
	}
}

// A daemon that lost a connection's lease records no new run of it: a run
// it started after the takeover (and never finished: it dies) would stay
// "running" for ever — the status shows a run going, the new holder never
// gives the connection up when balancing (none in the middle of a run),
// and memberships it lost could be recorded outside the holder's plan.
func TestLostLeaseRecordsNoRunNorLostMembers(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/idsync.db"
	a, b := open(t, path), open(t, path)
	a.Fence("A")
	tokA := expireSoon(t, a, "acme", "A")
	a.Grant("acme", tokA)
	if _, ok, err := b.Acquire(ctx, "acme", "B", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for name, write := range map[string]func(*Tx) error{
		"run":          func(tx *Tx) error { _, err := tx.StartRun("acme", "full"); return err },
		"lost members": func(tx *Tx) error { return tx.LoseGroupMembers("acme", "g1", nil) },
		"lost user":    func(tx *Tx) error { return tx.LoseUserMembers("acme", "u1") },
		"drop lost":    func(tx *Tx) error { return tx.DropLostMembers("acme", [][2]string{{"g1", "u1"}}) },
	} {
		if err := a.Update(ctx, write); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("%s written by the daemon that lost the lease: %v", name, err)
		}
	}
	if on, err := b.Running(ctx, "acme"); err != nil || on {
		t.Fatalf("a run of the ex-holder is recorded as running: %v %v", on, err)
	}
}

// A holder paused (SIGSTOP, a stalled VM) inside a fenced transaction
// keeps the lease row locked while its session stays open: without a bound
// no other daemon could ever take the connection over. The server ends a
// fenced transaction left idle past the store's limit (FenceIdle), so the
// takeover happens, and the paused holder's transaction is never committed.
func TestPausedHolderInTransactionDoesNotBlockTakeover(t *testing.T) {
	if pgtest.Backend() != "postgres" {
		t.Skip("PostgreSQL only: SQLite stores are not shared by daemons")
	}
	ctx := context.Background()
	path := t.TempDir() + "/idsync.db"
	a, b := open(t, path), open(t, path)
	a.Fence("A")
	a.FenceIdle(500 * time.Millisecond)
	tok, ok, err := a.Acquire(ctx, "acme", "A", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	a.Grant("acme", tok)
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.SaveCursor("acme", "from-paused-a", false); err != nil {
		t.Fatal(err)
	}
	// A is paused here; its lease runs out.
	if err := a.Release(ctx, "acme", "A", tok); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, ok, err := b.Acquire(ctx, "acme", "B", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B could not take the connection over while A's paused transaction stayed open")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("the paused holder's transaction committed after the takeover")
	}
	// A, resumed, goes on with a fresh session and is fenced.
	if err := a.Update(ctx, func(tx *Tx) error { return tx.SaveCursor("acme", "late", false) }); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("A's next write after its session was ended: %v", err)
	}
}
