package state

import (
	"context"
	"errors"
	"testing"
	"time"
)

// expireSoon takes conn's lease for owner with a lease so short that it
// has expired by the time the next statement runs, and waits (polling the
// database's clock, not sleeping a guess) until another owner can take it.
func expireSoon(t *testing.T, s *Store, conn, owner string) int64 {
	t.Helper()
	ctx := context.Background()
	token, ok, err := s.Acquire(ctx, conn, owner, time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("acquire %s for %s: %v %v", conn, owner, ok, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var live bool
		if err := s.View(ctx, func(tx *Tx) error {
			ls, err := tx.Leases()
			for _, l := range ls {
				if l.Connection == conn {
					live = l.Live
				}
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !live {
			return token
		}
		if time.Now().After(deadline) {
			t.Fatal("a 1ms lease did not expire within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestLeaseAcquireRenewTakeover(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir()+"/idsync.db")
	tok, ok, err := s.Acquire(ctx, "acme", "A", time.Minute)
	if err != nil || !ok || tok != 1 {
		t.Fatalf("first acquire: token %d ok %v err %v", tok, ok, err)
	}
	if _, ok, err := s.Acquire(ctx, "acme", "B", time.Minute); err != nil || ok {
		t.Fatalf("B took a live lease of A: %v %v", ok, err)
	}
	if ok, err := s.Renew(ctx, "acme", "A", tok, time.Minute); err != nil || !ok {
		t.Fatalf("renew: %v %v", ok, err)
	}
	if ok, err := s.Renew(ctx, "acme", "B", tok, time.Minute); err != nil || ok {
		t.Fatalf("B renewed A's lease: %v %v", ok, err)
	}

	// A's lease runs out (a pause): B takes over with a higher token, and
	// A can no longer renew.
	tok = expireSoon(t, s, "globex", "A")
	tokB, ok, err := s.Acquire(ctx, "globex", "B", time.Minute)
	if err != nil || !ok || tokB <= tok {
		t.Fatalf("takeover: token %d (A had %d) ok %v err %v", tokB, tok, ok, err)
	}
	if ok, err := s.Renew(ctx, "globex", "A", tok, time.Minute); err != nil || ok {
		t.Fatalf("A renewed a lease B took over: %v %v", ok, err)
	}
	// A clean release lets the next daemon in at once, with a new token.
	if err := s.Release(ctx, "globex", "B", tokB); err != nil {
		t.Fatal(err)
	}
	tokA, ok, err := s.Acquire(ctx, "globex", "A", time.Minute)
	if err != nil || !ok || tokA <= tokB {
		t.Fatalf("after release: token %d (B had %d) ok %v err %v", tokA, tokB, ok, err)
	}
}

// A daemon whose lease was taken over writes nothing: every fenced write
// fails with ErrLeaseLost and its transaction is not committed.
func TestLeaseFencesWrites(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/idsync.db"
	a, b := open(t, path), open(t, path)
	a.Fence("A")
	b.Fence("B")
	if err := a.Update(ctx, func(tx *Tx) error { return tx.SaveCursor("acme", "x", false) }); !errors.Is(err, ErrNotLeased) {
		t.Fatalf("a write without a lease: %v", err)
	}
	tokA := expireSoon(t, a, "acme", "A")
	a.Grant("acme", tokA)
	// Expired, and nobody took over yet: still no write.
	if err := a.Update(ctx, func(tx *Tx) error { return tx.SaveCursor("acme", "x", false) }); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a write on an expired lease: %v", err)
	}
	tokB, ok, err := b.Acquire(ctx, "acme", "B", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	b.Grant("acme", tokB)
	if err := b.Update(ctx, func(tx *Tx) error { return tx.SaveCursor("acme", "from-b", false) }); err != nil {
		t.Fatalf("the new holder's write: %v", err)
	}
	for name, write := range map[string]func(*Tx) error{
		"cursor":  func(tx *Tx) error { return tx.SaveCursor("acme", "from-a", false) },
		"outbox":  func(tx *Tx) error { return tx.Done("acme", 1) },
		"applied": func(tx *Tx) error { return tx.SetAppliedUser("acme", "T1", acct("u1", "u1@x")) },
		"snapshot": func(tx *Tx) error {
			_, err := tx.NextGeneration("acme")
			return err
		},
	} {
		if err := a.Update(ctx, write); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("%s write by the daemon that lost the lease: %v", name, err)
		}
	}
	update(t, b, func(tx *Tx) error {
		c, err := tx.Cursor("acme")
		if c.Cursor != "from-b" {
			t.Errorf("cursor %q, want the new holder's", c.Cursor)
		}
		ls, err2 := tx.Leases()
		if len(ls) != 1 || ls[0].Owner != "B" || ls[0].Token != tokB || !ls[0].Live {
			t.Errorf("leases %+v", ls)
		}
		return errors.Join(err, err2)
	})
}

func TestDaemonsHeartbeatAndLeave(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir()+"/idsync.db")
	for _, id := range []string{"A", "B"} {
		if err := s.Heartbeat(ctx, Daemon{ID: id, Host: "h", PID: 1, Command: "idsync run", Control: "/tmp/" + id + ".sock", Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.LiveDaemons(ctx, time.Minute); err != nil || n != 2 {
		t.Fatalf("live daemons %d %v", n, err)
	}
	if _, ok, err := s.Acquire(ctx, "acme", "A", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	update(t, s, func(tx *Tx) error {
		ls, err := tx.Leases()
		if len(ls) != 1 || ls[0].Control != "/tmp/A.sock" || ls[0].Host != "h" {
			t.Errorf("leases %+v", ls)
		}
		return err
	})
	if err := s.Leave(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.LiveDaemons(ctx, time.Minute); n != 1 {
		t.Errorf("live daemons after A left: %d", n)
	}
	if _, ok, err := s.Acquire(ctx, "acme", "B", time.Minute); !ok || err != nil {
		t.Fatalf("B takes the connection A left at once: %v %v", ok, err)
	}
}

func TestRenewAllAndRunning(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir()+"/idsync.db")
	tokA, _, _ := s.Acquire(ctx, "acme", "A", time.Minute)
	s.Acquire(ctx, "globex", "B", time.Minute)
	expireSoon(t, s, "initech", "A")
	got, err := s.RenewAll(ctx, "A", time.Minute)
	if err != nil || len(got) != 1 || got["acme"] != tokA {
		t.Fatalf("RenewAll: %v %v (want only acme: initech expired, globex is B's)", got, err)
	}
	if on, err := s.Running(ctx, "acme"); err != nil || on {
		t.Fatalf("running before any run: %v %v", on, err)
	}
	update(t, s, func(tx *Tx) error { _, err := tx.StartRun("acme", "full"); return err })
	if on, err := s.Running(ctx, "acme"); err != nil || !on {
		t.Fatalf("running during a run: %v %v", on, err)
	}
}
