package state

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/idsync/idsync"
)

// A run cancelled while its plan is being enqueued (the INSERTs on the
// transaction's goroutine, the marshalling a batch ahead on another) ends
// with an error, commits none of the plan, and leaves no goroutine behind.
// The cancel comes once the transaction's pages spill to the WAL, so
// mid-enqueue.
func TestEnqueueCancelledMidPlan(t *testing.T) {
	sqliteOnly(t) // the WAL file says when the enqueue is under way
	path := t.TempDir() + "/idsync.db"
	s := open(t, path)
	var ops []idsync.Op
	for i := range 100_000 {
		id := fmt.Sprintf("u%06d", i)
		ops = append(ops, idsync.Op{Kind: idsync.OpCreate, ObjectID: id,
			Account: &idsync.Account{ExternalID: id, UserName: id + "@example.test", DisplayName: "User " + id, Title: "Engineer", Active: true}})
	}
	base := int64(0)
	if fi, err := os.Stat(path + "-wal"); err == nil {
		base = fi.Size()
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(tx *Tx) error {
			_, err := tx.EnqueuePending("acme", 1, ops)
			return err
		})
	}()
	var err error
	cancelled := false
wait:
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case err = <-done:
			break wait
		default:
		}
		if fi, e := os.Stat(path + "-wal"); !cancelled && e == nil && fi.Size() > base+(1<<20) {
			cancel()
			cancelled = true
		}
		if time.Now().After(deadline) {
			t.Fatal("the enqueue did not end")
		}
		time.Sleep(100 * time.Microsecond)
	}
	if !cancelled {
		t.Skip("the enqueue committed before its pages reached the WAL; nothing cancelled")
	}
	if err == nil {
		t.Fatal("a cancelled enqueue committed")
	}
	update(t, s, func(tx *Tx) error {
		if n, err := tx.OutboxLen("acme"); err != nil || n != 0 {
			t.Fatalf("outbox holds %d ops after the cancelled enqueue (%v)", n, err)
		}
		return nil
	})
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before the enqueue, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(time.Millisecond)
	}
}
