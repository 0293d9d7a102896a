package state

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestOpenBesideAWriter: opening a current database, for writing or for
// reading, checks migrations in a read transaction, so it does not wait
// for a write transaction held by another connection (SQLite's busy
// timeout would otherwise turn into "database is locked").
func TestOpenBesideAWriter(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/idsync.db"
	w := open(t, path)
	update(t, w, func(tx *Tx) error { return tx.SaveCursor("acme", "c1", false) })
	tx, err := w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.SaveCursor("acme", "uncommitted", false); err != nil {
		t.Fatal(err)
	}

	ro, err := OpenReadOnly(ctx, loc(t, path))
	if err != nil {
		t.Fatalf("read-only open beside a write transaction: %v", err)
	}
	defer ro.Close()
	if err := ro.View(ctx, func(tx *Tx) error {
		c, err := tx.Cursor("acme")
		if err == nil && c.Cursor != "c1" {
			t.Errorf("a reader sees cursor %q, want the committed c1", c.Cursor)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, loc(t, path)); err != nil {
		t.Fatalf("open beside a write transaction: %v", err)
	} else {
		s.Close()
	}
}

func TestOpenReadOnlyNeverWrites(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/idsync.db"
	w := open(t, path)
	update(t, w, func(tx *Tx) error { _, err := tx.StartRun("acme", "full"); return err })
	ro, err := OpenReadOnly(ctx, loc(t, path))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Update(ctx, func(tx *Tx) error { return tx.SaveCursor("acme", "x", false) }); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Update on a read-only store: %v", err)
	}
	if err := ro.View(ctx, func(tx *Tx) error {
		if _, err := tx.StartRun("acme", "full"); err == nil {
			t.Error("a write inside View on a read-only store succeeded")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenReadOnlyMissingDatabaseReadsEmpty(t *testing.T) {
	path := t.TempDir() + "/idsync.db"
	ro, err := OpenReadOnly(context.Background(), loc(t, path))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.View(context.Background(), func(tx *Tx) error {
		runs, err := tx.Runs(Filter{})
		if len(runs) != 0 {
			t.Errorf("runs %v", runs)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only open created the database: %v", err)
	}
}

func TestOpenReadOnlyNeedsMigration(t *testing.T) {
	path := t.TempDir() + "/idsync.db"
	w := open(t, path)
	names, _ := migrationNames()
	last := names[len(names)-1]
	if _, err := w.db.Exec(rebind(w, `DELETE FROM migrations WHERE name = ?`), last); err != nil { // as written by an older idsync
		t.Fatal(err)
	}
	_, err := OpenReadOnly(context.Background(), loc(t, path))
	if err == nil || !strings.Contains(err.Error(), last) || !strings.Contains(err.Error(), "restart the daemon") {
		t.Fatalf("read-only open of a database that needs %s: %v", last, err)
	}
}

func TestCloseInterrupted(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	var cut, done int64
	update(t, s, func(tx *Tx) (err error) {
		if done, err = tx.StartRun("acme", "full"); err != nil {
			return err
		}
		if err := tx.FinishRun(Run{ID: done, Result: RunOK}); err != nil {
			return err
		}
		cut, err = tx.StartRun("acme", "incremental")
		return err
	})
	var closed []Run
	update(t, s, func(tx *Tx) (err error) { closed, err = tx.CloseInterrupted(); return err })
	if len(closed) != 1 || closed[0].ID != cut || closed[0].Result != RunInterrupted {
		t.Fatalf("closed %+v, want run %d", closed, cut)
	}
	update(t, s, func(tx *Tx) error {
		runs, err := tx.Runs(Filter{Connection: "acme"})
		if err != nil {
			return err
		}
		if runs[0].ID != cut || runs[0].Result != RunInterrupted || runs[0].FinishedAt.IsZero() || runs[1].Result != RunOK {
			t.Errorf("runs %+v", runs)
		}
		events, err := tx.Events(Filter{Connection: "acme"})
		if err != nil {
			return err
		}
		if len(events) != 1 || events[0].RunID != cut || events[0].Result != RunInterrupted {
			t.Errorf("events %+v", events)
		}
		if again, err := tx.CloseInterrupted(); err != nil || len(again) != 0 {
			t.Errorf("closing again: %v, %v", again, err)
		}
		return nil
	})
}

// TestCopyToBesideAWriter: the copy a dry run plans on is taken without
// waiting for a write transaction, and holds only what was committed.
func TestCopyToBesideAWriter(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	dir := t.TempDir()
	w := open(t, dir+"/idsync.db")
	update(t, w, func(tx *Tx) error { return tx.SaveCursor("acme", "c1", false) })
	tx, err := w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	tx.SaveCursor("acme", "uncommitted", false)
	ro, err := OpenReadOnly(ctx, loc(t, dir+"/idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.CopyTo(ctx, dir+"/copy.db"); err != nil {
		t.Fatal(err)
	}
	cp := open(t, dir+"/copy.db")
	update(t, cp, func(tx *Tx) error {
		c, err := tx.Cursor("acme")
		if c.Cursor != "c1" {
			t.Errorf("the copy has cursor %q, want c1", c.Cursor)
		}
		return err
	})
}

// TestScratchBesideAWriter: a dry run's scratch copy holds what was
// committed, takes writes of its own that never reach the state, and
// neither waits for the writer nor blocks it (both backends).
func TestScratchBesideAWriter(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/idsync.db"
	w := open(t, path)
	update(t, w, func(tx *Tx) error {
		if err := tx.SaveCursor("acme", "c1", false); err != nil {
			return err
		}
		_, err := tx.StartRun("acme", "full")
		return err
	})
	tx, err := w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.SaveCursor("acme", "uncommitted", false); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, loc(t, path))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	sc, done, err := ro.Scratch(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := sc.Cursor("acme"); err != nil || c.Cursor != "c1" {
		t.Errorf("the scratch copy has cursor %q (%v), want the committed c1", c.Cursor, err)
	}
	if err := sc.SaveCursor("acme", "dry", false); err != nil {
		t.Fatal(err)
	}
	if id, err := sc.StartRun("acme", "incremental"); err != nil || id < 2 {
		t.Errorf("a run in the scratch copy: id %d (%v), want one after the state's", id, err)
	}
	// The writer commits while the scratch copy holds its own write.
	if err := tx.Commit(); err != nil {
		t.Fatalf("the writer beside a scratch copy: %v", err)
	}
	if err := done(); err != nil {
		t.Fatal(err)
	}
	update(t, w, func(tx *Tx) error {
		c, err := tx.Cursor("acme")
		if c.Cursor != "uncommitted" {
			t.Errorf("after the scratch copy the state has cursor %q, want the writer's", c.Cursor)
		}
		return err
	})
}
