package sync

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// A real first sync (an empty snapshot, a full read) is planned the way a
// dry run of it is: from the read held in memory. Writing 100,000 users and
// their memberships into SQLite costs several times what reading them does,
// and nothing in the plan depends on it; so the snapshot is written while
// the plan is applied, and the run ends when both are done. The cursor
// and the sweep come with the snapshot's last write, as after any pull: a
// run cut short before that (a crash while applying) leaves no cursor, and
// the next run reads everything again, resumes the outbox first and plans
// against what was applied. The plan itself is durable in the outbox before
// anything is sent, as always.

// firstPull is a completed first read, in memory, and its pages waiting
// for the snapshot.
type firstPull struct {
	mem   *memDirectory
	pages *pageSpool
	gen   int64
	next  string // the cursor to save with the last page
	full  bool

	done chan error // the snapshot writer's result, once started
}

// pullFirst reads c's directory into memory when this is a first read into
// an empty snapshot; it returns nil (and reads nothing) otherwise.
func (e *Engine) pullFirst(ctx context.Context, c *Connection, opt Options, log *slog.Logger) (*firstPull, error) {
	var first bool
	f := &firstPull{mem: newMemDirectory()}
	if err := e.Store.Update(ctx, func(tx *state.Tx) (err error) {
		if first, err = firstRead(tx, c.Name, opt.Full); err != nil || !first {
			return err
		}
		f.gen, err = tx.NextGeneration(c.Name)
		return err
	}); err != nil || !first {
		return nil, err
	}
	var err error
	if f.pages, err = newPageSpool(); err != nil {
		return nil, err
	}
	next, full, err := readIntoMemory(ctx, c, f.mem, f.pages.put)
	if err != nil {
		f.pages.close()
		return nil, fmt.Errorf("pull from %s failed after %d pages; nothing planned, nothing written: %w", c.idpName(), f.pages.pages, err)
	}
	f.next, f.full = next, full
	log.Debug("pulled into memory", "pages", f.pages.pages, "full", full)
	return f, nil
}

// readIntoMemory runs one whole Pull of c from no cursor into mem, with
// progress; keep, when set, also gets every page, after mem has it.
func readIntoMemory(ctx context.Context, c *Connection, mem *memDirectory, keep func([]idsync.Change) error) (next string, full bool, err error) {
	setPhase(ctx, "pulling from "+c.idpName())
	prog := progressOf(ctx)
	prog.phase(PhasePull)
	record := mem.apply
	if keep != nil {
		record = func(page []idsync.Change) error {
			if err := mem.apply(page); err != nil {
				return err
			}
			return keep(page)
		}
	}
	w := newPageWriter(record) // records page k while the source fetches k+1
	next, full, err = c.Source.Pull(ctx, "", func(page []idsync.Change) error {
		prog.page(len(page))
		return w.put(page)
	})
	if werr := w.close(); werr != nil { // the source then returned that error or nothing
		err = werr
	}
	return next, full, err
}

// evaluate is evaluate(tx, true) on the read in memory.
func (f *firstPull) evaluate(tx *state.Tx, c *Connection) (*evaluation, error) {
	fp, changed, recorded, err := c.policyChanged(tx)
	if err != nil {
		return nil, err
	}
	g, err := c.loadGraph(f.mem)
	if err != nil {
		return nil, err
	}
	ev, err := c.evaluateIDs(tx, f.mem, g, nil)
	if ev != nil {
		ev.all = true
		if changed {
			ev.policy, ev.policyChanged = fp, recorded
		}
	}
	return ev, err
}

// release drops the read in memory and ev's facts once the plan is made,
// and collects them, before the outbox copies the plan's ops and the
// snapshot writer and the apply grow the heap again: the heap's next GC
// target is twice what was live at the last one, so collecting here rather
// than when the heap next doubles takes ~100 MB off a 100,000-user first
// sync's peak. ev keeps what the rest of the plan transaction reads (the
// dirty marks, stale memberships, policy).
func (f *firstPull) release(ev *evaluation) {
	f.mem = nil
	ev.graph, ev.users, ev.applied, ev.members, ev.groups, ev.lost = nil, nil, nil, nil, nil, nil
	runtime.GC()
}

// writeFirst starts writing the snapshot, a page per transaction, then sweeps
// and saves the cursor; planned says the plan was enqueued, so the dirty
// marks the writes leave are covered by it and cleared (unless an op of run
// runID failed). wait returns its result.
func (e *Engine) writeFirst(ctx context.Context, c *Connection, f *firstPull, runID int64, planned bool) {
	f.done = make(chan error, 1)
	f.mem = nil // the plan is made: only the pages are still needed
	go func() {
		f.done <- protect(func() error {
			if err := f.pages.each(func(page []idsync.Change) error {
				return e.Store.Update(ctx, func(tx *state.Tx) error { return tx.ApplyChanges(c.Name, f.gen, page) })
			}); err != nil {
				return err
			}
			if e.beforeFirstCursor != nil {
				e.beforeFirstCursor()
			}
			return e.Store.Update(ctx, func(tx *state.Tx) error {
				if f.full {
					if err := tx.Sweep(c.Name, f.gen); err != nil {
						return err
					}
				}
				if planned {
					// An op that failed meanwhile marked its user dirty to be
					// retried by the next (incremental) run: then every mark
					// stays, and the next run evaluates everyone once.
					failed, err := tx.RunFailures(runID)
					if err != nil {
						return err
					}
					if failed == 0 {
						if err := tx.ClearDirty(c.Name, nil, nil, true); err != nil {
							return err
						}
					}
				}
				return tx.SaveCursor(c.Name, f.next, f.full)
			})
		})
	}()
}

// discard closes the spool of a first read whose snapshot writer never
// started (the run failed before the plan was made): a daemon must not
// keep a file open per failed first sync.
func (f *firstPull) discard() {
	if f != nil && f.done == nil {
		f.pages.close()
	}
}

// wait returns the snapshot writer's result (nil if it was never started).
func (f *firstPull) wait() error {
	if f == nil || f.done == nil {
		return nil
	}
	if err := <-f.done; err != nil {
		return fmt.Errorf("write the snapshot of the first read (the plan was made from it in memory; the next run reads everything again): %w", err)
	}
	return nil
}
