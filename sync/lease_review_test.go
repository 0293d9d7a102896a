package sync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/state/pgtest"
	"github.com/idsync/idsync/targets"
)

// A daemon that loses its lease while an op waits to be retried (another
// daemon took the connection over meanwhile and drains the same outbox)
// must not send the op again: the new holder sends it, and a second copy
// arriving later — a delete after the id was reused, a create after a
// delete — undoes its work. Only an op already in flight may land twice.
func TestNoOpSentAfterLeaseLost(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Policy{})
	h.src.user("u1", "alice")
	h.store.Fence("A")
	tok, ok, err := h.store.Acquire(ctx, "acme", "A", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	h.store.Grant("acme", tok)
	other, err := state.Open(ctx, pgtest.Loc(t, h.path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	h.tgt.fail = func(op idsync.Op, call int) error {
		if call == 1 {
			return &targets.RetryableError{Err: errors.New("503 Service Unavailable")}
		}
		return nil
	}
	// While A waits to retry, its lease ends and B takes the connection.
	h.engine.Backoff.Sleep = func(ctx context.Context, d time.Duration) error {
		if err := h.store.Release(ctx, "acme", "A", tok); err != nil {
			return err
		}
		if _, ok, err := other.Acquire(ctx, "acme", "B", time.Minute); err != nil || !ok {
			t.Errorf("B's takeover: %v %v", ok, err)
		}
		return nil
	}
	_, err = h.engine.Run(ctx, h.conn, Options{})
	if !errors.Is(err, state.ErrLeaseLost) {
		t.Errorf("run after the lease was lost: %v, want ErrLeaseLost", err)
	}
	if h.tgt.calls != 1 {
		t.Fatalf("the workspace got %d requests; want 1 (none after the lease was lost)", h.tgt.calls)
	}
}

// The same through a batching target: a batch waiting to be retried is not
// sent again once the lease is lost, and nothing of it is recorded.
func TestNoBatchSentAfterLeaseLost(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Policy{})
	bt := &batchTarget{fakeTarget: h.tgt, size: 4, inflight: map[string]bool{}}
	h.conn.Target = bt
	h.src.user("u1", "alice")
	h.src.user("u2", "bob")
	h.store.Fence("A")
	tok, ok, err := h.store.Acquire(ctx, "acme", "A", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	h.store.Grant("acme", tok)
	other, err := state.Open(ctx, pgtest.Loc(t, h.path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	h.tgt.fail = func(op idsync.Op, call int) error {
		if op.ObjectID == "u1" && call == 1 {
			return &targets.RetryableError{Err: errors.New("429 inside bulk")}
		}
		return nil
	}
	h.engine.Backoff.Sleep = func(ctx context.Context, d time.Duration) error {
		if err := h.store.Release(ctx, "acme", "A", tok); err != nil {
			return err
		}
		// A takeover skips a lease row under a fenced transaction still
		// committing (another op's record): it succeeds on a later try,
		// and would never if a transaction were held across this wait.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			_, ok, err := other.Acquire(ctx, "acme", "B", time.Minute)
			if err == nil && ok {
				break
			}
			if err != nil || time.Now().After(deadline) {
				t.Errorf("B's takeover: %v %v", ok, err)
				break
			}
		}
		return nil
	}
	if _, err := h.engine.Run(ctx, h.conn, Options{}); !errors.Is(err, state.ErrLeaseLost) {
		t.Errorf("run after the lease was lost: %v, want ErrLeaseLost", err)
	}
	if len(bt.batches) != 1 {
		t.Fatalf("batches sent %v; want 1 (none after the lease was lost)", bt.batches)
	}
}
