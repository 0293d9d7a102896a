package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Files idsync writes hold names, emails and plans: they are the owner's
// alone. The state database is created 0600; SQLite creates its -wal,
// -shm and -journal files with the database file's mode, so they are 0600
// too. A directory idsync has to create for them is 0700; one that exists
// is left as it is (the operator may share it on purpose).
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// sidecars are the files SQLite keeps beside a database.
var sidecars = []string{"", "-wal", "-shm", "-journal"}

// makeDir creates the directory of path, owner-only, when it does not exist.
func makeDir(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil // there (or unreadable: opening the file says why)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create the state's directory: %w", err)
	}
	return nil
}

// prepare makes the database file at path exist, owner-only, before SQLite
// opens it: SQLite would create it with 0644 (less the umask), and gives
// its -wal and -shm files the database file's mode. Files an older idsync
// left readable by others are made owner-only.
func prepare(path string) error {
	if err := makeDir(path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	f.Close()
	for _, s := range sidecars {
		private(path + s)
	}
	return nil
}

// private makes the file at path owner-only if others can read or write
// it. It is best effort: a file that is not ours to change stays as it is.
func private(path string) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	_ = os.Chmod(path, fi.Mode().Perm()&fileMode)
}

// fileURI is path as a SQLite URI filename naming exactly that file. The
// state path is a plain file name: pasted into "file:PATH?..." a "?" in it
// would start the query (?_pragma=... would take effect), a "#" would end
// the name, and "%41" would be decoded. They are escaped (SQLite decodes
// %HH in URI filenames), and an absolute path gets an empty authority
// ("file:///...") so that one starting with "//" is not read as a host.
func fileURI(path string) string {
	var b strings.Builder
	b.WriteString("file:")
	if strings.HasPrefix(path, "/") {
		b.WriteString("//")
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '%', '?', '#':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
