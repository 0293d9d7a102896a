package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Every name of one database has one real path; a database that does not
// exist yet is named through its directory's symlinks and its own.
func TestRealPath(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "var", "lib", "idsync.db")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(dir, "var", "lib"), filepath.Join(dir, "lib")))   // a symlinked directory
	must(os.Symlink(real, filepath.Join(dir, "file.db")))                           // a symlink to the (not yet existing) file
	must(os.Symlink("var/lib/idsync.db", filepath.Join(dir, "relative.db")))        // a relative one
	must(os.Symlink(filepath.Join(dir, "file.db"), filepath.Join(dir, "chain.db"))) // a link to a link
	must(os.Symlink(filepath.Join(dir, "loop.db"), filepath.Join(dir, "loop.db")))  // a loop ends
	names := []string{real, filepath.Join(dir, "lib", "idsync.db"), filepath.Join(dir, "file.db"),
		filepath.Join(dir, "relative.db"), filepath.Join(dir, "chain.db"), filepath.Join(dir, "var", ".", "lib", "..", "lib", "idsync.db")}
	for _, exists := range []bool{false, true} {
		if exists {
			must(os.WriteFile(real, nil, 0o600))
		}
		for _, n := range names {
			if got := RealPath(n); got != real {
				t.Errorf("exists=%v: RealPath(%s) = %s, want %s", exists, n, got, real)
			}
		}
	}
	t.Chdir(filepath.Join(dir, "lib"))
	if got := RealPath("idsync.db"); got != real {
		t.Errorf("RealPath of a relative name = %s, want %s", got, real)
	}
	if got := RealPath(filepath.Join(dir, "loop.db")); got == "" {
		t.Error("RealPath of a symlink loop is empty")
	}
	// Not there at all: as given (made absolute).
	if got, want := RealPath(filepath.Join(dir, "new", "idsync.db")), filepath.Join(dir, "new", "idsync.db"); got != want {
		t.Errorf("RealPath in a directory that does not exist = %s, want %s", got, want)
	}
}

// Through a symlink to a database that does not exist yet (the daemon's
// first start): one lock.
func TestLockThroughASymlinkBeforeTheDatabaseExists(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "var"), 0o700); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "var", "idsync.db")
	if err := os.Symlink(real, filepath.Join(dir, "idsync.db")); err != nil {
		t.Fatal(err)
	}
	first, err := TryLock(filepath.Join(dir, "idsync.db"), Holder{PID: os.Getpid(), Command: "idsync run", Since: time.Now(), Daemon: true})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Unlock()
	second, err := TryLock(real, Holder{PID: os.Getpid(), Command: "idsync sync", Since: time.Now()})
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.Holder == nil || !inUse.Holder.Daemon {
		second.Unlock()
		t.Fatalf("second writer by the real name: %v", err)
	}
}
