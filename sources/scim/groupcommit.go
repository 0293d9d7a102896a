package scim

import (
	"context"
	"fmt"

	"github.com/idsync/idsync/state"
)

// Group commit: the writes that arrive while the database is busy (with
// another write, or the engine's run, which share its one connection) are
// committed together in one transaction when it is free again, each inside
// a savepoint. A request is answered when the transaction that holds its
// write has committed — never before — and a request that fails is rolled
// back to its savepoint alone: its writes never land, the others' do. At
// 1,000 writes/s one request at a time queued behind each other's BEGIN
// and COMMIT, and all of them behind every engine transaction.

// maxGroup bounds a group: one failed commit fails no more requests than
// this, and the transaction stays short.
const maxGroup = 64

// pendingWrite is one Update waiting for its group's commit.
type pendingWrite struct {
	ctx  context.Context
	f    func(tx RepoTx) error
	done chan error // buffered: the committer never waits for the caller
}

func (r *StateRepo) Update(ctx context.Context, f func(tx RepoTx) error) error {
	p := &pendingWrite{ctx: ctx, f: f, done: make(chan error, 1)}
	r.queue.Add(p, maxGroup, r.commitGroup)
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// Gone before its group was run: the group skips it. Run (or
		// running): its answer is lost, its write is not.
		return ctx.Err()
	}
}

// commitGroup runs the group's requests in one transaction, each in a
// savepoint, and answers each once the transaction has committed (or
// failed).
func (r *StateRepo) commitGroup(group []*pendingWrite) {
	errs := make([]error, len(group))
	answer := func(err error) {
		for i, p := range group {
			if err != nil && errs[i] == nil {
				errs[i] = err
			}
			p.done <- errs[i]
		}
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	// The group's transaction outlives any one request: a client that
	// leaves does not abort the others' writes.
	ctx := context.WithoutCancel(group[0].ctx)
	if err := r.loadLocked(ctx); err != nil {
		answer(err)
		return
	}
	t := &stateTx{conn: r.conn, repo: r}
	ran := 0
	err := r.store.Update(ctx, func(tx *state.Tx) error {
		t.tx = tx
		// On a shared store, pushes of the connection at other daemons
		// queue here (state/pushwrite.go); on SQLite it does nothing.
		if err := tx.PushLock(r.conn); err != nil {
			return err
		}
		for i, p := range group {
			if err := p.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			if err := runSaved(t, p.f); err != nil {
				if _, failed := err.(*savepointError); failed {
					return err
				}
				errs[i] = err
				continue
			}
			ran++
		}
		return nil
	})
	if err == nil && ran > 0 {
		r.remember(t)
	}
	answer(err)
}

// savepointError is a failure of the savepoint itself: the transaction is
// in doubt and the whole group fails.
type savepointError struct{ err error }

func (e *savepointError) Error() string { return e.err.Error() }
func (e *savepointError) Unwrap() error { return e.err }

// runSaved runs f inside a savepoint of t's transaction: on f's error,
// everything f wrote (in the database and in t's writes) is undone.
func runSaved(t *stateTx, f func(tx RepoTx) error) error {
	const name = "scim_write"
	if err := t.tx.Savepoint(name); err != nil {
		return &savepointError{err}
	}
	mark := len(t.writes)
	if err := runRecovered(t, f); err != nil {
		t.writes = t.writes[:mark]
		if rerr := t.tx.RollbackToSavepoint(name); rerr != nil {
			return &savepointError{fmt.Errorf("scim: undo a failed write: %w", rerr)}
		}
		return err
	}
	if err := t.tx.ReleaseSavepoint(name); err != nil {
		return &savepointError{err}
	}
	return nil
}

// runRecovered runs f, a panic in it an error of its request alone: f runs
// on the committer's goroutine, outside net/http's recovery of the
// request that sent it.
func runRecovered(t *stateTx, f func(tx RepoTx) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("scim: write failed: %v", v)
		}
	}()
	return f(t)
}
