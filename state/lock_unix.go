//go:build unix

package state

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile opens path and takes an exclusive flock on it without waiting;
// errLocked when another process has it.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	ownLikeDir(f, path)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}

// ownLikeDir gives f, when root opens it, the owner of its directory, as
// SQLite gives its -wal and -shm files the database's: under the shipped
// unit (DynamicUser=yes) the state directory is the service user's, and a
// lock file left root's by `sudo idsync sync` would keep the service from
// opening it. Best effort: a failure leaves the file as it was.
func ownLikeDir(f *os.File, path string) {
	if os.Geteuid() != 0 {
		return
	}
	var dir syscall.Stat_t
	if err := syscall.Stat(filepath.Dir(path), &dir); err != nil || (dir.Uid == 0 && dir.Gid == 0) {
		return
	}
	f.Chown(int(dir.Uid), int(dir.Gid))
}
