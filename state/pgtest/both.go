package pgtest

import (
	"context"
	"fmt"
	"os"
	stdsync "sync"
	"testing"
)

// A package whose tests should hold on both state backends calls Main from
// its TestMain: its tests run on SQLite, then (Env set) the same tests
// again on PostgreSQL. A test names its database by a file path
// (t.TempDir()+"/idsync.db"); Loc turns that into the backend's location:
// the path itself, or a schema of its own in the test cluster, the same one
// for every open of that path within the test.

var (
	backend = "sqlite"
	schemas stdsync.Map // path → DSN
)

// Main runs m on SQLite, then on PostgreSQL when Env is set (failing when
// it is not but Env_REQUIRED is), and returns the exit code. pkg names the
// package in what it prints.
func Main(m *testing.M, pkg string) int {
	code := m.Run()
	if os.Getenv(Env) == "" {
		if os.Getenv(Env+"_REQUIRED") != "" {
			fmt.Fprintf(os.Stderr, "FAIL: %s is not set but %s_REQUIRED is: the %s tests did not run on PostgreSQL\n", Env, Env, pkg)
			return 1
		}
		fmt.Fprintf(os.Stderr, "%s: PostgreSQL run skipped (%s is not set)\n", pkg, Env)
		return code
	}
	backend = "postgres"
	fmt.Fprintf(os.Stderr, "%s: the same tests on PostgreSQL\n", pkg)
	if pg := m.Run(); pg != 0 {
		code = pg
	}
	return code
}

// Backend is the backend the tests run on now: "sqlite" or "postgres".
func Backend() string { return backend }

// Loc is the location of the test database "at path" on the current backend.
func Loc(tb testing.TB, path string) string {
	tb.Helper()
	if backend == "sqlite" {
		return path
	}
	if dsn, ok := schemas.Load(path); ok {
		return dsn.(string)
	}
	tb.Logf("backend: postgres")
	dsn, drop, err := NewSchema(context.Background(), os.Getenv(Env))
	if err != nil {
		tb.Fatalf("PostgreSQL test cluster: %v", err)
	}
	schemas.Store(path, dsn)
	tb.Cleanup(func() { schemas.Delete(path); drop() })
	return dsn
}

// SQLiteOnly skips a test of what only the SQLite store has (files, modes,
// flock, raw SQLite reads).
func SQLiteOnly(tb testing.TB) {
	tb.Helper()
	if backend != "sqlite" {
		tb.Skip("SQLite only")
	}
}
