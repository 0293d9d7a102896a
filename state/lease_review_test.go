package state

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A daemon's renewal must not wait for its own fenced transactions: the
// fence holds the lease row for the length of the transaction (a page of a
// full read, a large plan), and a renewal queued behind it finds the lease
// expired once it runs — a healthy daemon loses every connection whose
// transaction outlasts the lease. A takeover, though, must still wait for
// the fenced transaction to end (else the ex-holder commits after it).
func TestRenewalNotStarvedByFencedTransaction(t *testing.T) {
	if testBackend != "postgres" {
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
