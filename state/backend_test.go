package state

import (
	"os"
	"testing"

	"github.com/idsync/idsync/state/pgtest"
)

// The state tests run on SQLite, then on PostgreSQL (pgtest.Main).

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "state")) }

// loc is the location of the test database "at path" on the current backend.
func loc(t testing.TB, path string) string { t.Helper(); return pgtest.Loc(t, path) }

// sqliteOnly skips a test of what only the SQLite store has (files, modes,
// flock, VACUUM INTO).
func sqliteOnly(t *testing.T) { t.Helper(); pgtest.SQLiteOnly(t) }

// rebind is the test's raw SQL for the store's backend.
func rebind(s *Store, q string) string { return s.d.rebind(q) }
