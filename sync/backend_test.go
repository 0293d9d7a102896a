package sync

import (
	"database/sql"
	"os"
	"testing"

	"github.com/idsync/idsync/state/pgtest"
)

// The engine's tests run on SQLite, then on PostgreSQL (pgtest.Main): code
// that carries on in a transaction after a failed statement works on
// SQLite and fails only on PostgreSQL, so only running both shows it.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "sync")) }

// rawDB opens the test database "at path" with plain database/sql, for a
// test to read (or, as an older idsync would have, write) what the store
// keeps; tables lists its tables.
func rawDB(t *testing.T, path string) (db *sql.DB, tables string) {
	t.Helper()
	var err error
	if pgtest.Backend() == "sqlite" {
		db, err = sql.Open("sqlite", "file:"+path)
		tables = `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
	} else {
		db, err = sql.Open("pgx", pgtest.Loc(t, path))
		tables = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, tables
}
