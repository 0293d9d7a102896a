package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/idsync/idsync"
)

// REVIEW (fixed: LockPath and the control socket use RealPath). The lock was taken on "<path>.lock" by the path as
// the config spells it, not on the database file: a config that names the
// state through a symlink (/etc/idsync/idsync.db -> /var/lib/idsync/idsync.db,
// or a second config written by hand) gets another lock file for the same
// database, so the daemon and a one-shot sync both "hold the lock" and write
// one database — issue 8's two-writer bug (re-stamped generations, ops
// applied twice) comes back, and the CLI is not forwarded to the daemon
// either (no InUseError, and the socket is "<path>.sock" of the other name).
// Suggested fix: resolve the path (filepath.EvalSymlinks of the database,
// created first if needed) before deriving the lock and socket paths, or
// flock the database file itself (flock and SQLite's POSIX locks do not
// interfere on Linux); compare device+inode if a hard link must be caught too.
func TestReviewLockThroughASymlinkIsTheSameLock(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "var", "idsync.db")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), loc(t, real))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	link := filepath.Join(dir, "idsync.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	daemon, err := TryLock(real, Holder{PID: os.Getpid(), Command: "idsync run", Since: time.Now(), Daemon: true})
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Unlock()
	second, err := TryLock(link, Holder{PID: os.Getpid(), Command: "idsync sync --full", Since: time.Now()})
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		second.Unlock()
		t.Fatalf("a second writer on the same database through a symlink got the lock too (err %v)", err)
	}
}

// Migration 0003 forgets a target id recorded for two users ("nobody acts
// on the shared account by id meanwhile"), and ops already in the outbox
// (an upgrade is a daemon stop, which leaves unsent ops there, then a
// start that drains them first) must not bring it back: a disable of
// aaa-111 planned with TargetID X would be sent to X — bbb-222's account
// since the old adoption bug — and its success would re-record aaa-111 → X.
// The outbox keeps no workspace ids (ops an older version wrote lose them
// on read); the applier takes them from the applied state.
func TestReviewMigrationLeavesSharedTargetIDInOutbox(t *testing.T) {
	path := t.TempDir() + "/idsync.db"
	s := open(t, path)
	for _, q := range []string{
		`DROP INDEX applied_users_target`,
		`DROP INDEX applied_groups_target`,
		`DELETE FROM migrations WHERE name = 'migrations/0003_unique_target_ids.sql'`,
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	update(t, s, func(tx *Tx) error {
		for _, u := range []struct{ id, name string }{{"aaa-111", "jsmith.old@x"}, {"bbb-222", "jsmith@x"}} {
			if _, err := tx.exec(`INSERT INTO applied_users (connection, id, target_id, user_name, email, given_name, family_name,
				display_name, employee_id, title, department, active, role) VALUES ('acme', ?, 'X', ?, '', '', '', '', '', '', '', 1, '')`,
				u.id, u.name); err != nil {
				return err
			}
		}
		off := acct("aaa-111", "jsmith.old@x")
		off.Active = false
		_, err := tx.Enqueue("acme", 1, []idsync.Op{{Kind: idsync.OpDisable, ObjectID: "aaa-111", TargetID: "X", Account: &off}})
		return err
	})
	s.Close()

	s = open(t, path)
	update(t, s, func(tx *Tx) error {
		pending, err := tx.Outbox("acme")
		if err != nil {
			return err
		}
		for _, p := range pending {
			if p.Op.TargetID == "X" {
				t.Errorf("after the migration forgot X, a pending %s of %s is still sent to X", p.Op.Kind, p.Op.ObjectID)
			}
		}
		return nil
	})
}
