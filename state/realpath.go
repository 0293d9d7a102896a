package state

import (
	"os"
	"path/filepath"
)

// RealPath is the state database at path as the file system names it:
// absolute, every symlink resolved. The lock file and the daemon's control
// socket are named after it, so every name of one database (a config that
// spells it through a symlink, a relative path) finds the same lock and
// the same daemon. It is also how SQLite names the -wal and -shm files it
// keeps beside the database: one database, one set of files.
//
// A database that does not exist yet is named by its resolved directory
// (and a dangling symlink by its target); a directory that does not exist
// either is left as given (it is created under that name). Hard links are
// not followed: SQLite keeps a separate WAL per name, so a database must
// not have two.
func RealPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	for range 40 { // symlinks followed at most, like the kernel's limit
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			return real
		}
		// The file does not exist (or is a dangling symlink): resolve
		// its directory, then the link, if it is one.
		dir, base := filepath.Split(abs)
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		target, err := os.Readlink(filepath.Join(dir, base))
		if err != nil {
			return filepath.Join(dir, base)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		abs = target
	}
	return abs
}
