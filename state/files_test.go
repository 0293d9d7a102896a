package state

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestStateFilesAreOwnerOnly: the database holds names, emails and held
// plans. It was created 0644 (and SQLite made its -wal and -shm files the
// same), readable by every local user. Now the database, its -wal and -shm,
// the lock file and a dry run's copy are 0600, in directories idsync
// creates 0700; a directory that exists keeps its mode.
func TestStateFilesAreOwnerOnly(t *testing.T) {
	sqliteOnly(t)
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	ctx := context.Background()
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "var", "idsync", "idsync.db")
	lock, err := TryLock(path, Holder{PID: os.Getpid(), Command: "test", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	s := open(t, path)
	update(t, s, func(tx *Tx) error { return tx.SaveCursor("acme", "c1", false) })
	for _, f := range []string{path, path + "-wal", path + "-shm", LockPath(path)} {
		if m := mode(t, f); m != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(f), m)
		}
	}
	for _, d := range []string{filepath.Join(root, "var"), filepath.Dir(path)} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("created directory %s: mode %04o, want 0700", d, m)
		}
	}
	if m := mode(t, root); m != 0o755 {
		t.Errorf("the existing directory became %04o", m)
	}

	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := s.CopyTo(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, cp); m != 0o600 {
		t.Errorf("dry run copy: mode %04o, want 0600", m)
	}
}

// TestOlderWorldReadableStateIsMadeOwnerOnly: files an older idsync
// created 0644 are made 0600 when the writer opens them.
func TestOlderWorldReadableStateIsMadeOwnerOnly(t *testing.T) {
	sqliteOnly(t)
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	path := filepath.Join(t.TempDir(), "idsync.db")
	s := open(t, path)
	update(t, s, func(tx *Tx) error { return tx.SaveCursor("acme", "c1", false) })
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s2 := open(t, path)
	update(t, s2, func(tx *Tx) error { return tx.SaveCursor("acme", "c2", false) })
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if m := mode(t, f); m != 0o600 {
			t.Errorf("%s: mode %04o after a writer opened it, want 0600", filepath.Base(f), m)
		}
	}
}

// TestStatePathIsAFileNameNotAURI: `state:` was pasted into a SQLite URI,
// so "?_pragma=..." in it took effect (and named another file), "#" cut
// the name short and "%41" was decoded. Each is now taken literally.
func TestStatePathIsAFileNameNotAURI(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{
		"idsync.db?_pragma=journal_mode(DELETE)&_pragma=foreign_keys(OFF)",
		"idsync.db?mode=memory",
		"state#1.db",
		"state%41.db",
		"/" + filepath.Join(dir, "double-slash.db"), // "//tmp/..." is not a host
	} {
		path := name
		if !strings.HasPrefix(name, "/") {
			path = filepath.Join(dir, name)
		}
		s, err := Open(ctx, loc(t, path))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		update(t, s, func(tx *Tx) error { return tx.SaveCursor("acme", "c1", false) })
		var journal string
		var fk int
		if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&journal); err != nil {
			t.Fatal(err)
		}
		if err := s.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if journal != "wal" || fk != 1 {
			t.Errorf("%s: journal_mode %s, foreign_keys %d: the path's text changed the database's settings", name, journal, fk)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: the database is not at that path: %v", name, err)
			continue
		}
		ro, err := OpenReadOnly(ctx, loc(t, path))
		if err != nil {
			t.Errorf("%s: read-only: %v", name, err)
			continue
		}
		if err := ro.View(ctx, func(tx *Tx) error {
			c, err := tx.Cursor("acme")
			if err == nil && c.Cursor != "c1" {
				t.Errorf("%s: read-only open sees cursor %q, want c1", name, c.Cursor)
			}
			return err
		}); err != nil {
			t.Errorf("%s: read-only: %v", name, err)
		}
		ro.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "idsync.db")); err == nil {
		t.Error("a database was created at the path without its ?... suffix")
	}
}
