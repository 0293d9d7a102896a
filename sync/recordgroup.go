package sync

import (
	"context"
	"fmt"

	"github.com/idsync/idsync/internal/groupcommit"
	"github.com/idsync/idsync/state"
)

// Group commit of applied ops' records. The apply workers of a connection
// (up to the target's concurrency) each record what they applied in a
// transaction of its own; under a push storm that was ~1,000 BEGIN/COMMITs
// a second on SQLite's one writing connection, which hands itself to a
// random waiter, and the pushed writes queued among them. A worker's record
// now joins those waiting when the database is busy: they are committed in
// one transaction, each in a savepoint, and each worker goes on only once
// the transaction holding its record has committed — exactly as before, so
// an object's next op (and the next phase) still sees its last op recorded.
//
// Crash safety is unchanged in kind: an op is removed from the outbox in
// the same transaction as its applied state and event. A crash before that
// commit leaves every op of the group in the outbox, applied at the
// workspace but not recorded — the state a crash between an op's request
// and its single-op record left before — and the next run sends them again
// (resolved by identity: targets find the account, creates adopt it).

// maxRecordGroup bounds a group: one failed commit fails no more records.
const maxRecordGroup = 32

type recorder struct {
	queue groupcommit.Queue[*pendingRecord]
	// claims: the workspace objects whose records are queued or in an
	// uncommitted group, with the IdP id each is being recorded for. The
	// adoption guard (opContext) reads them first: View reads on a pool of
	// its own and does not wait for the group's transaction, so without
	// them a worker would adopt an account another has just created.
	claims map[claimKey]string
}

type claimKey struct {
	group    bool
	targetID string
}

// claim records that conn's workspace object (group or not) targetID is
// being recorded for objectID, until the returned func is called.
func (e *Engine) claim(conn string, group bool, targetID, objectID string) func() {
	k := claimKey{group, targetID}
	e.mu.Lock()
	r := e.recorderOf(conn)
	if r.claims == nil {
		r.claims = map[claimKey]string{}
	}
	_, had := r.claims[k]
	if !had {
		r.claims[k] = objectID
	}
	e.mu.Unlock()
	return func() {
		if had {
			return
		}
		e.mu.Lock()
		delete(r.claims, k)
		e.mu.Unlock()
	}
}

// claimed is the IdP id a record waiting to commit gives conn's workspace
// object targetID, or "".
func (e *Engine) claimed(conn string, group bool, targetID string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.recs[conn]; r != nil {
		return r.claims[claimKey{group, targetID}]
	}
	return ""
}

type pendingRecord struct {
	f    func(*state.Tx) error
	done chan error // buffered: the committer never waits for the worker
}

// recorderOf is conn's recorder; the caller holds e.mu.
func (e *Engine) recorderOf(conn string) *recorder {
	if e.recs == nil {
		e.recs = map[string]*recorder{}
	}
	r := e.recs[conn]
	if r == nil {
		r = &recorder{}
		e.recs[conn] = r
	}
	return r
}

// recordUpdate runs f, which writes conn's state, in a transaction shared
// with the other records of conn waiting at the moment, inside a savepoint:
// f's error undoes f's writes alone and is returned; a failed commit is
// every record's error. It returns once the transaction has committed.
func (e *Engine) recordUpdate(ctx context.Context, conn string, f func(*state.Tx) error) error {
	p := &pendingRecord{f: f, done: make(chan error, 1)}
	e.mu.Lock()
	r := e.recorderOf(conn)
	e.mu.Unlock()
	// The leader's context, without its end, commits the groups it leads
	// and those after it.
	ctx = context.WithoutCancel(ctx)
	r.queue.Add(p, maxRecordGroup, func(group []*pendingRecord) { e.commitRecordGroup(ctx, conn, group) })
	return <-p.done // never abandoned: a record in flight is always awaited
}

func (e *Engine) commitRecordGroup(ctx context.Context, conn string, group []*pendingRecord) {
	errs := make([]error, len(group))
	err := protect(func() error {
		return e.Store.Update(ctx, func(tx *state.Tx) error {
			// The lease is checked (and on PostgreSQL locked) before any
			// savepoint: a lock taken inside one rolled back would be gone.
			if err := tx.Fence(conn); err != nil {
				return err
			}
			for i, p := range group {
				if len(group) == 1 {
					errs[i] = p.f(tx) // alone: no savepoint needed
					return errs[i]
				}
				if err := tx.Savepoint("idsync_record"); err != nil {
					return err
				}
				if errs[i] = protect(func() error { return p.f(tx) }); errs[i] != nil {
					if err := tx.RollbackToSavepoint("idsync_record"); err != nil {
						return fmt.Errorf("undo a failed record: %w", err)
					}
					continue
				}
				if err := tx.ReleaseSavepoint("idsync_record"); err != nil {
					return err
				}
			}
			return nil
		})
	})
	for i, p := range group {
		if err != nil && errs[i] == nil {
			errs[i] = err
		}
		p.done <- errs[i]
	}
}
