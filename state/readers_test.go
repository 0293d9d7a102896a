package state

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/idsync/idsync"
)

// A SQLite store's View reads on connections of its own: beside a write
// transaction (it used to queue for the writer's one connection), seeing
// only what was committed, and unable to write.
func TestViewReadsBesideTheWriter(t *testing.T) {
	sqliteOnly(t)
	s := open(t, filepath.Join(t.TempDir(), "idsync.db"))
	ctx := context.Background()
	user := func(id string) idsync.Account {
		return idsync.Account{ExternalID: id, UserName: id + "@x.test", Active: true}
	}
	update(t, s, func(tx *Tx) error { return tx.SetAppliedUser("c", "t-a", user("a")) })

	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.SetAppliedUser("c", "t-b", user("b")); err != nil {
		t.Fatal(err)
	}
	read := func() (map[string]AppliedUser, error) {
		var got map[string]AppliedUser
		err := s.View(ctx, func(tx *Tx) (err error) {
			got, err = tx.AppliedUsers("c", nil)
			return err
		})
		return got, err
	}
	type result struct {
		users map[string]AppliedUser
		err   error
	}
	done := make(chan result, 1)
	go func() {
		u, err := read()
		done <- result{u, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if _, ok := r.users["a"]; !ok || len(r.users) != 1 {
			t.Fatalf("a read beside the open write saw %v; want the committed user a only", r.users)
		}
	case <-time.After(time.Minute):
		t.Fatal("View waited for the open write transaction")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if u, err := read(); err != nil || len(u) != 2 {
		t.Fatalf("after the commit a read saw %v, %v; want a and b", u, err)
	}

	// A View cannot write, even by mistake.
	err = s.View(ctx, func(tx *Tx) error { return tx.SetAppliedUser("c", "t-c", user("c")) })
	if err == nil {
		t.Fatal("a write inside View succeeded")
	}
	if u, _ := read(); len(u) != 2 {
		t.Fatalf("after a refused write in View: %v", u)
	}
}

// The statements queryAll prepares once per store are per pool: the same
// query in a View and in an Update runs on each (prepared statements of one
// database/sql pool cannot run in another's transactions).
func TestCachedQueriesOnBothPools(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "idsync.db"))
	ctx := context.Background()
	for i := range 3 {
		id := string(rune('a' + i))
		update(t, s, func(tx *Tx) error {
			if _, err := tx.AppliedUsers("c", []string{id}); err != nil {
				return err
			}
			return tx.SetAppliedUser("c", "t-"+id, idsync.Account{ExternalID: id, UserName: id, Active: true})
		})
		if err := s.View(ctx, func(tx *Tx) error {
			got, err := tx.AppliedUsers("c", []string{id})
			if err == nil && got[id].TargetID != "t-"+id {
				t.Errorf("View read %v for %s", got, id)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// The read pool connects lazily, after Open prepared the file owner-only:
// it must never create a database of its own at the path (SQLite would make
// it 0644), e.g. when the file was moved away while the daemon runs.
func TestReadPoolCreatesNoFile(t *testing.T) {
	sqliteOnly(t)
	path := filepath.Join(t.TempDir(), "idsync.db")
	s := open(t, path)
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	err := s.View(context.Background(), func(tx *Tx) error {
		_, err := tx.AppliedUsers("c", nil)
		return err
	})
	if fi, serr := os.Stat(path); serr == nil {
		t.Fatalf("a View created %s (mode %v, read error %v)", path, fi.Mode().Perm(), err)
	}
	if err == nil {
		t.Fatal("a View read a database that is no longer at its path")
	}
}
