package bench

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/state/pgtest"
)

// benchLoc is where a benchmark's state lives: a SQLite file in a temp dir,
// or with IDSYNC_BENCH_POSTGRES=1 a fresh schema of the PostgreSQL cluster
// named by IDSYNC_TEST_POSTGRES (.ci/postgres.sh starts one). The same
// benchmarks then compare the two backends.
func benchLoc(b *testing.B) string {
	if os.Getenv("IDSYNC_BENCH_POSTGRES") != "" {
		return pgtest.DSN(b)
	}
	return b.TempDir() + "/idsync.db"
}

// BenchmarkScratch100k: what a dry run beside a synced 100k tenant pays
// before its pull, on either backend: Store.Scratch, a private writable
// copy of the connection's state (SQLite: VACUUM INTO a file and open it;
// PostgreSQL: temporary tables filled from one snapshot), then dropped.
func BenchmarkScratch100k(b *testing.B) {
	ctx := context.Background()
	st := openStore(b)
	err := st.Update(ctx, func(tx *state.Tx) error {
		for _, p := range firstReadPages() {
			if err := tx.ApplyChanges("bench", 1, p); err != nil {
				return err
			}
		}
		for i := range 100_000 {
			id := fmt.Sprintf("u%06d", i)
			a := idsync.Account{ExternalID: id, UserName: id + "@contoso.test", Email: id + "@contoso.test", GivenName: "Given",
				FamilyName: "Family", DisplayName: "User " + id, EmployeeID: "G" + id, Title: "Engineer", Department: "Engineering",
				Active: true, Role: "reader"}
			if err := tx.SetAppliedUser("bench", fmt.Sprintf("t%06d", i), a); err != nil {
				return err
			}
		}
		return tx.SaveCursor("bench", "c", true)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		tx, done, err := st.Scratch(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if n, err := tx.AppliedCount("bench"); err != nil || n != 100_000 {
			b.Fatalf("scratch copy holds %d applied users (%v)", n, err)
		}
		if err := done(); err != nil {
			b.Fatal(err)
		}
	}
}
