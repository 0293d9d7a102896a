package state

import (
	"context"
	"fmt"
	"os"
	stdsync "sync"
	"testing"

	"github.com/idsync/idsync/state/pgtest"
)

// The state tests run twice: on SQLite, then (IDSYNC_TEST_POSTGRES set) the
// same tests again on PostgreSQL. A test names its database by a file path
// (t.TempDir()+"/idsync.db"); loc turns that into the backend's location:
// the path itself, or a schema of its own in the test cluster, the same one
// for every open of that path within the test. Tests of what only SQLite
// has (files, modes, flock, VACUUM INTO) call sqliteOnly.
var testBackend = "sqlite"

func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(pgtest.Env) == "" {
		if os.Getenv(pgtest.Env+"_REQUIRED") != "" {
			fmt.Fprintf(os.Stderr, "FAIL: %s is not set but %s_REQUIRED is: the state tests did not run on PostgreSQL\n", pgtest.Env, pgtest.Env)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "state: PostgreSQL run skipped (%s is not set)\n", pgtest.Env)
		os.Exit(code)
	}
	testBackend = "postgres"
	fmt.Fprintln(os.Stderr, "state: the same tests on PostgreSQL")
	if pg := m.Run(); pg != 0 {
		code = pg
	}
	os.Exit(code)
}

var schemas stdsync.Map // path → DSN

// loc is the location of the test database "at path" on the current backend.
func loc(t testing.TB, path string) string {
	t.Helper()
	if testBackend == "sqlite" {
		return path
	}
	if dsn, ok := schemas.Load(path); ok {
		return dsn.(string)
	}
	t.Logf("backend: postgres")
	dsn, drop, err := pgtest.NewSchema(context.Background(), os.Getenv(pgtest.Env))
	if err != nil {
		t.Fatalf("PostgreSQL test cluster: %v", err)
	}
	schemas.Store(path, dsn)
	t.Cleanup(func() { schemas.Delete(path); drop() })
	return dsn
}

// sqliteOnly skips a test of what only the SQLite store has.
func sqliteOnly(t *testing.T) {
	t.Helper()
	if testBackend != "sqlite" {
		t.Skip("SQLite only")
	}
}

// rebind is the test's raw SQL for the store's backend.
func rebind(s *Store, q string) string { return s.d.rebind(q) }
