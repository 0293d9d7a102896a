package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKilledMidEnqueueAppliesNothingTwice: SIGKILL a first sync while it
// writes its plan to the outbox, which is one transaction that the
// workspace's first write waits for. The outbox's transaction is rolled
// back (nothing pending, nothing written to the workspace), and the next
// run plans and applies everyone once. The kill comes when SQLite starts
// spilling the outbox's pages to the WAL, mid-transaction: the plan is
// larger than the page cache.
func TestKilledMidEnqueueAppliesNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("plans 20,000 users")
	}
	const users = 20_000
	// Migrations and the run's start write well under this; 20,000 ops
	// (~12 MB) spill past the 8 MB page cache before their commit.
	const spilled = 4 << 20
	var e *e2e
	for try := 1; ; try++ {
		e = killMidEnqueue(t, users, spilled)
		st := e.must([]string{"status", "--output", "json"})
		n := len(e.ws.Users())
		if n == 0 && strings.Contains(st.stdout, `"ops_pending": 0`) {
			break
		}
		// The kill came after the commit (the poll was late): a valid
		// state, but not the one tested.
		if try == 3 {
			t.Fatalf("three kills all came after the outbox's commit (%d accounts written):\n%s", n, st.stdout)
		}
		t.Logf("try %d: killed after the outbox's commit (%d accounts written); again", try, n)
	}
	if n := e.ws.CountRequests("POST", ""); n > 0 {
		t.Fatalf("%d writes reached the workspace before the outbox was committed", n)
	}
	e.must([]string{"sync"})
	got := e.workspace() // fails on duplicates
	if enabled := users - users/50; len(got) != enabled {
		t.Fatalf("after the rerun: %d accounts, want %d", len(got), enabled)
	}
	if st := e.must([]string{"status", "--output", "json"}); !strings.Contains(st.stdout, `"ops_pending": 0`) {
		t.Fatalf("outbox not empty:\n%s", st.stdout)
	}
}

// killMidEnqueue starts a first sync of users into a fresh workspace and
// SIGKILLs it once the state's WAL has grown past spilled bytes.
func killMidEnqueue(t *testing.T, users int, spilled int64) *e2e {
	t.Helper()
	e := generatedE2E(t, users)

	wal := filepath.Join(e.dir, "idsync.db-wal")
	cmd := execIdsync(e.config, "sync")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("the sync ended before its outbox spilled to the WAL (%d accounts written)", len(e.ws.Users()))
		default:
		}
		if fi, err := os.Stat(wal); err == nil && fi.Size() > spilled {
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			return e
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatal("the WAL never grew past its threshold")
		}
		time.Sleep(200 * time.Microsecond)
	}
}
