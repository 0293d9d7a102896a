//go:build unix

package state

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Under the shipped unit (DynamicUser=yes) the state directory belongs to
// the service's user. An operator who runs a writing command as root while
// the service is stopped (`sudo idsync sync` during an incident) used to
// leave "<state>.lock" root-owned and 0600: the service then could not
// open it and failed to start ("permission denied") until someone chowned
// it. SQLite gives its -wal/-shm files the database's owner when run as
// root; the lock now takes its directory's owner the same way.
func TestLockFileCreatedByRootBelongsToTheStateDirectorysOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := filepath.Join(t.TempDir(), "idsync")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const service = 61234 // a DynamicUser uid
	if err := os.Chown(dir, service, service); err != nil {
		t.Fatal(err)
	}
	l, err := TryLock(filepath.Join(dir, "idsync.db"), Holder{PID: os.Getpid(), Command: "idsync sync"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	fi, err := os.Stat(filepath.Join(dir, "idsync.db.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != service || st.Gid != service {
		t.Fatalf("the lock file root created is owned by %d:%d, want the state directory's %d:%d", st.Uid, st.Gid, service, service)
	}
}
