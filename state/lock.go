package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// errLocked: another process holds the lock file.
var errLocked = errors.New("locked")

// Lock is the right to write one state database, exclusive across
// processes: flock(2) on "<state>.lock" (on Windows, the file opened
// without write sharing). The kernel releases it when the
// holder exits, however it exits, so a crash never leaves it stuck, and the
// next holder knows every run still marked running was cut short.
//
// The lock file is never removed: a process that removed it could take a
// lock on a new file while another still holds the old one.
type Lock struct {
	f *os.File
}

// Holder says who holds a Lock. It is written into the lock file so a
// process that cannot take the lock can say which one has it.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"` // e.g. "idsync sync --full"
	Since   time.Time `json:"since"`
	// Daemon: the holder is `idsync run`, which carries out sync and approve
	// sent to its control socket.
	Daemon bool `json:"daemon,omitempty"`
}

// InUseError is TryLock's answer when another process holds the lock.
type InUseError struct {
	State  string
	Holder *Holder // nil when the holder has not written itself into the lock file yet
}

func (e *InUseError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("state %s is in use by another idsync process; wait for it or stop it", e.State)
	}
	return fmt.Sprintf("state %s is in use by `%s` (pid %d, since %s); wait for it or stop it",
		e.State, e.Holder.Command, e.Holder.PID, e.Holder.Since.Local().Format(time.DateTime))
}

// LockPath is the lock file of the state database at path: beside the
// database's real file (RealPath), whatever name path gives it.
func LockPath(path string) string { return RealPath(path) + ".lock" }

// TryLock takes the write lock of the state database at path for h without
// waiting. When another process holds it the error is an *InUseError naming
// that process.
func TryLock(path string, h Holder) (*Lock, error) {
	if err := makeDir(path); err != nil {
		return nil, fmt.Errorf("state: lock %s: %w", path, err)
	}
	f, err := lockFile(LockPath(path))
	if errors.Is(err, errLocked) {
		return nil, &InUseError{State: path, Holder: readHolder(LockPath(path))}
	}
	if err != nil {
		return nil, fmt.Errorf("state: lock %s: %w", path, err)
	}
	private(LockPath(path)) // one an older idsync created 0644
	l := &Lock{f: f}
	if err := l.write(h); err != nil {
		l.Unlock()
		return nil, fmt.Errorf("state: lock %s: %w", path, err)
	}
	return l, nil
}

// write records h in the lock file, in place: renaming a new file over it
// would move the name away from the locked inode.
func (l *Lock) write(h Holder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err = l.f.WriteAt(append(b, '\n'), 0)
	return err
}

// Unlock releases the lock. The holder's record stays in the file; it
// names nobody once the lock is free.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

// readHolder reads the holder record, waiting a little for a holder that
// has taken the lock but not written itself yet.
func readHolder(path string) *Holder {
	deadline := time.Now().Add(time.Second)
	for {
		if h, ok := parseHolder(path); ok {
			return h
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func parseHolder(path string) (*Holder, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, false
	}
	var h Holder
	if json.Unmarshal(b, &h) != nil || h.PID == 0 {
		return nil, false
	}
	return &h, true
}
