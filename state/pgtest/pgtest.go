// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the cluster named by IDSYNC_TEST_POSTGRES (a DSN; .ci/run starts
// a throwaway cluster and sets it), dropped when the test ends. Without the
// variable PostgreSQL tests skip, unless IDSYNC_TEST_POSTGRES_REQUIRED is
// set (CI), where a missing or unreachable cluster is a failure: CI must
// not pass by skipping them.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env is the variable naming the test cluster.
const Env = "IDSYNC_TEST_POSTGRES"

// Available reports whether a test cluster is configured, and fails tb
// when it is required but not configured.
func Available(tb testing.TB) bool {
	tb.Helper()
	if os.Getenv(Env) != "" {
		return true
	}
	if os.Getenv(Env+"_REQUIRED") != "" {
		tb.Fatalf("%s is not set but %s_REQUIRED is: the PostgreSQL tests cannot run", Env, Env)
	}
	return false
}

// DSN returns the DSN of a new, empty schema of the test cluster, which is
// dropped at the end of the test. It skips tb when no cluster is
// configured (and fails it when one is required).
func DSN(tb testing.TB) string {
	tb.Helper()
	if !Available(tb) {
		tb.Skipf("PostgreSQL tests skipped: set %s to a DSN (.ci/postgres.sh starts a throwaway cluster)", Env)
	}
	dsn, drop, err := NewSchema(context.Background(), os.Getenv(Env))
	if err != nil {
		tb.Fatalf("PostgreSQL test cluster (%s): %v", Env, err)
	}
	tb.Cleanup(drop)
	return dsn
}

// NewSchema creates a schema with a random name in the database at base and
// returns a DSN whose search_path is that schema, and a function dropping it.
func NewSchema(ctx context.Context, base string) (dsn string, drop func(), err error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+name); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db.ExecContext(ctx, `DROP SCHEMA `+name+` CASCADE`)
	}, nil
}
