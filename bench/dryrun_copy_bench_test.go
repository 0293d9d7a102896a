package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// BenchmarkDryRunCopy100k: what a dry run beside a synced 100k tenant pays
// before its pull: a consistent copy of the state (VACUUM INTO) from a
// read-only store, and opening it. The state holds the snapshot (100,000
// users, 200,000 member links), 100,000 applied users and the provisioning
// log of their creation.
func BenchmarkDryRunCopy100k(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	path := filepath.Join(dir, "idsync.db")
	st, err := state.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	err = st.Update(ctx, func(tx *state.Tx) error {
		for _, p := range firstReadPages() {
			if err := tx.ApplyChanges("bench", 1, p); err != nil {
				return err
			}
		}
		run, err := tx.StartRun("bench", "full")
		if err != nil {
			return err
		}
		for i := range 100_000 {
			id := fmt.Sprintf("u%06d", i)
			a := idsync.Account{ExternalID: id, UserName: id + "@contoso.test", Email: id + "@contoso.test", GivenName: "Given",
				FamilyName: "Family", DisplayName: "User " + id, EmployeeID: "G" + id, Title: "Engineer", Department: "Engineering",
				Active: true, Role: "reader"}
			if err := tx.SetAppliedUser("bench", fmt.Sprintf("t%06d", i), a); err != nil {
				return err
			}
			if err := tx.AddEvent(state.Event{RunID: run, Connection: "bench", Kind: "create", ObjectID: id, Name: a.UserName, Result: "applied"}); err != nil {
				return err
			}
		}
		return tx.SaveCursor("bench", "c", true)
	})
	st.Close()
	if err != nil {
		b.Fatal(err)
	}
	ro, err := state.OpenReadOnly(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer ro.Close()
	var size int64
	b.ResetTimer()
	for b.Loop() {
		tmp, err := os.MkdirTemp(dir, "copy-")
		if err != nil {
			b.Fatal(err)
		}
		cp := filepath.Join(tmp, "idsync.db")
		if err := ro.CopyTo(ctx, cp); err != nil {
			b.Fatal(err)
		}
		c, err := state.Open(ctx, cp)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
		b.StopTimer()
		if fi, err := os.Stat(cp); err == nil {
			size = fi.Size()
		}
		os.RemoveAll(tmp)
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/(1<<20), "copy-MB")
}
