package state

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// lockHolderEnv makes TestLockHolderProcess, run by a child test binary,
// take the lock of the state it names and hold it until killed.
const lockHolderEnv = "IDSYNC_TEST_LOCK_HOLDER"

func TestLockHolderProcess(t *testing.T) {
	path := os.Getenv(lockHolderEnv)
	if path == "" {
		t.Skip("helper: runs in a child process of TestLockAcrossProcesses")
	}
	if _, err := TryLock(path, Holder{PID: os.Getpid(), Command: "idsync sync --full", Since: time.Now()}); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	select {} // until killed
}

// TestLockAcrossProcesses: while another process holds the lock, TryLock
// fails and names it; when that process is killed (no chance to clean up),
// the kernel releases the lock.
func TestLockAcrossProcesses(t *testing.T) {
	path := t.TempDir() + "/idsync.db"
	child := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$")
	child.Env = append(os.Environ(), lockHolderEnv+"="+path)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("holder: %q, %v", line, err)
	}

	_, err = TryLock(path, Holder{PID: os.Getpid(), Command: "idsync approve acme", Since: time.Now()})
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.Holder == nil || inUse.Holder.PID != child.Process.Pid {
		t.Fatalf("second writer: %v (%+v)", err, inUse)
	}
	if want := fmt.Sprintf("state %s is in use by `idsync sync --full` (pid %d, since ", path, child.Process.Pid); !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("message %q\nwant prefix %q", err, want)
	}

	child.Process.Kill() // SIGKILL
	child.Wait()
	l, err := TryLock(path, Holder{PID: os.Getpid(), Command: "idsync run", Since: time.Now(), Daemon: true})
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	if h, ok := parseHolder(LockPath(path)); !ok || h.PID != os.Getpid() || !h.Daemon {
		t.Fatalf("lock file names %+v", h)
	}
	l.Unlock()
	if l, err = TryLock(path, Holder{PID: os.Getpid(), Command: "idsync sync", Since: time.Now()}); err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	l.Unlock()
}
