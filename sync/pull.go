package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
)

// pull reads the source into the snapshot. inTx runs a function in the
// transaction a page goes to: its own per page for a real run, the one
// rolled-back transaction for a dry run. The cursor is saved, and a full
// read swept, only once the source has delivered everything (and confirmed
// what it did not mention, confirmUnseen); a pull that fails leaves the
// previous cursor in place and sweeps nothing.
func (e *Engine) pull(ctx context.Context, c *Connection, forceFull bool, inTx func(func(*state.Tx) error) error, log *slog.Logger) (full bool, err error) {
	var cursor string
	var gen int64
	start := func() error {
		return inTx(func(tx *state.Tx) error {
			cur, err := tx.Cursor(c.Name)
			if err != nil {
				return err
			}
			cursor = cur.Cursor
			gen, err = tx.NextGeneration(c.Name)
			return err
		})
	}
	if err := start(); err != nil {
		return false, err
	}
	if forceFull {
		cursor = ""
	}
	setPhase(ctx, "pulling from "+c.idpName())
	prog := progressOf(ctx)
	prog.phase(PhasePull)
	pages := 0
	// read runs one Pull; its pages are written on the writer's goroutine
	// while the source fetches the next one.
	read := func(cursor string) (string, bool, error) {
		w := newPageWriter(func(page []idsync.Change) error {
			return inTx(func(tx *state.Tx) error { return tx.ApplyChanges(c.Name, gen, page) })
		})
		next, full, err := c.Source.Pull(ctx, cursor, func(page []idsync.Change) error {
			pages++
			prog.page(len(page))
			return w.put(page) // emit owns page (sources.Source)
		})
		if werr := w.close(); werr != nil { // the source then returned that error or nothing
			err = werr
		}
		return next, full, err
	}
	next, full, err := read(cursor)
	if errors.Is(err, sources.ErrCursorExpired) && cursor != "" {
		log.Warn("cursor expired; reading the whole directory again", "error", err)
		if err := start(); err != nil { // a fresh generation: the sweep must not count what the aborted pull touched
			return false, err
		}
		next, full, err = read("")
	}
	if err != nil {
		return false, fmt.Errorf("pull from %s failed after %d pages; nothing planned, cursor kept: %w", c.idpName(), pages, err)
	}
	if full {
		if err := confirmUnseen(ctx, c, gen, inTx, log); err != nil {
			return false, fmt.Errorf("pull from %s: the full read is complete, but the users it did not mention could not be confirmed; nothing swept or planned, cursor kept: %w", c.idpName(), err)
		}
	}
	err = inTx(func(tx *state.Tx) error {
		if full {
			if err := tx.Sweep(c.Name, gen); err != nil {
				return err
			}
		}
		return tx.SaveCursor(c.Name, next, full)
	})
	if err != nil {
		return false, err
	}
	log.Debug("pulled", "pages", pages, "full", full)
	return full, nil
}

// pageWriter writes pages into the snapshot on its own goroutine, in
// order, so the source fetches and decodes the next page while the last one
// is written (a first read of 100,000 users spends as long in SQLite as on
// the network). One page waits in the queue at most; the first write error
// is returned by every later put and by close.
type pageWriter struct {
	pages  chan []idsync.Change
	done   chan struct{}
	err    error // written by the writer goroutine; read after done
	failed atomic.Bool
	closed bool // pages closed (put and close run on the puller's goroutine)
}

func newPageWriter(write func([]idsync.Change) error) *pageWriter {
	w := &pageWriter{pages: make(chan []idsync.Change, 1), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for page := range w.pages {
			if w.err != nil {
				continue // drain: the source stops at its next emit
			}
			if w.err = protect(func() error { return write(page) }); w.err != nil {
				w.failed.Store(true)
			}
		}
	}()
	return w
}

// put queues page, or returns the error that stopped the writer.
func (w *pageWriter) put(page []idsync.Change) error {
	if w.failed.Load() {
		return w.close()
	}
	w.pages <- page
	return nil
}

// close waits until every queued page is written and returns the first
// write error. It may be called more than once.
func (w *pageWriter) close() error {
	select {
	case <-w.done:
	default:
		if !w.closed {
			w.closed = true
			close(w.pages)
		}
		<-w.done
	}
	return w.err
}
