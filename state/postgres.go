package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// IsPostgres reports whether a state location names a PostgreSQL database
// (a postgres:// or postgresql:// URL) rather than a SQLite file.
func IsPostgres(loc string) bool {
	return strings.HasPrefix(loc, "postgres://") || strings.HasPrefix(loc, "postgresql://")
}

// Redact is a state location fit for logs and errors: a PostgreSQL URL
// without its password (in the user part or as a password= parameter); a
// SQLite path as it is.
func Redact(loc string) string {
	if !IsPostgres(loc) {
		return loc
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "postgres://(unparsable URL, not shown)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// pgOpen is a database handle on dsn. Its sessions plan every statement
// for its arguments (plan_cache_mode=force_custom_plan, unless the DSN
// says otherwise): the store prepares each statement once per
// transaction, and a generic plan PostgreSQL caches while a table is
// still small (a first read's transaction fills it from empty) keeps
// scanning the whole table as it grows — a first read of 100,000 users
// went quadratic.
func pgOpen(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("the state's URL does not parse as a PostgreSQL DSN (not shown: it may hold a password)")
	}
	if _, ok := cfg.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	return stdlib.OpenDB(*cfg), nil
}

// openPostgres opens the PostgreSQL database at dsn and applies the
// migrations it lacks. A reader (readOnly) applies them only to a database
// that has none yet (a fresh database reads as empty, like a SQLite file
// that does not exist); one that a newer idsync must migrate is an error.
func openPostgres(ctx context.Context, dsn string, readOnly bool) (*Store, error) {
	name := Redact(dsn)
	db, err := pgOpen(dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", name, err)
	}
	// One connection, as with SQLite: the transactions of one process
	// queue for it, so the engine sees the same one-writer-at-a-time store
	// on both. Several processes share the database through leases.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, path: name, d: postgresDialect, dsn: dsn, Now: time.Now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s: %w; check the URL and that the server is up", name, err)
	}
	missing, err := s.pendingMigrations(ctx)
	if err == nil && len(missing) > 0 {
		names, _ := migrationNames()
		if readOnly && len(missing) < len(names) {
			err = fmt.Errorf("the database needs migration %s, which only a writer applies: run `idsync sync` (or restart the daemon) with this version of idsync first",
				strings.Join(missing, ", "))
		} else {
			err = s.migrate(ctx)
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s: %w", name, err)
	}
	s.readOnly = readOnly
	return s, nil
}

// Scratch is a writable transaction on a private copy of conn's part of the
// state, for a dry run: it may write anything (pull, plan, record) and
// nothing reaches the state or blocks its writer. done rolls it back and
// removes the copy; call it however the dry run ends.
//
// With SQLite the copy is a file (CopyTo) in a directory only this user can
// read. With PostgreSQL it is a set of temporary tables, one per state
// table, on a connection of its own: they shadow the real ones for that
// connection (PostgreSQL searches pg_temp first), hold conn's rows copied
// in one REPEATABLE READ snapshot, and vanish with the transaction. The
// provisioning log's events are not copied (a dry run only adds to them).
func (s *Store) Scratch(ctx context.Context, conn string) (tx *Tx, done func() error, err error) {
	if s.d.postgres() {
		return s.scratchPostgres(ctx, conn)
	}
	dir, err := os.MkdirTemp("", "idsync-dry-run-") // mode 0700
	if err != nil {
		return nil, nil, fmt.Errorf("state: scratch copy: %w", err)
	}
	var cp *Store
	done = func() error {
		if tx != nil {
			tx.Rollback()
		}
		if cp != nil {
			cp.Close() // before RemoveAll
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("state: remove the scratch copy: %w", err)
		}
		return nil
	}
	path := filepath.Join(dir, "idsync.db")
	if err = s.CopyTo(ctx, path); err == nil {
		if cp, err = Open(ctx, path); err == nil {
			tx, err = cp.Begin(ctx)
		}
	}
	if err != nil {
		done()
		return nil, nil, err
	}
	return tx, done, nil
}

func (s *Store) scratchPostgres(ctx context.Context, conn string) (*Tx, func() error, error) {
	db, err := pgOpen(s.dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("state: scratch copy: %w", err)
	}
	db.SetMaxOpenConns(1)
	cp := &Store{db: db, path: s.path, d: s.d, dsn: s.dsn, Now: s.Now}
	tx, err := cp.begin(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	done := func() error {
		tx.Rollback() // drops the temporary tables
		return db.Close()
	}
	if err := copyToTemp(tx, conn); err != nil {
		done()
		return nil, nil, fmt.Errorf("state: scratch copy: %w", err)
	}
	return tx, done, nil
}

// copyToTemp creates a temporary twin of every table of the state's schema
// and copies conn's rows into it.
func copyToTemp(tx *Tx, conn string) error {
	type column struct{ table, name, identity string }
	cols, err := queryAll(tx, func(r *sql.Rows) (column, error) {
		var c column
		return c, r.Scan(&c.table, &c.name, &c.identity)
	}, `SELECT table_name, column_name, is_identity FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if err != nil {
		return err
	}
	schema := ""
	if err := tx.tx.QueryRowContext(tx.ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	byTable := map[string][]column{}
	var tables []string
	for _, c := range cols {
		if _, ok := byTable[c.table]; !ok {
			tables = append(tables, c.table)
		}
		byTable[c.table] = append(byTable[c.table], c)
	}
	if len(tables) == 0 {
		return errors.New("the state has no tables")
	}
	for _, t := range tables {
		if t == "migrations" {
			continue
		}
		src := quoteIdent(schema) + "." + quoteIdent(t)
		if _, err := tx.tx.ExecContext(tx.ctx, `CREATE TEMP TABLE `+quoteIdent(t)+` (LIKE `+src+` INCLUDING ALL) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
		hasConn := false
		for _, c := range byTable[t] {
			hasConn = hasConn || c.name == "connection"
		}
		if t != "events" {
			q := `INSERT INTO pg_temp.` + quoteIdent(t) + ` SELECT * FROM ` + src
			var args []any
			if hasConn {
				q += ` WHERE connection = ?`
				args = append(args, conn)
			}
			if _, err := tx.tx.ExecContext(tx.ctx, q, args...); err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
		}
		// An identity column's twin starts its own sequence at 1: move it
		// past the ids the real table has handed out.
		for _, c := range byTable[t] {
			if c.identity != "YES" {
				continue
			}
			if _, err := tx.tx.ExecContext(tx.ctx, `SELECT setval(pg_get_serial_sequence(?, ?), (SELECT COALESCE(MAX(`+quoteIdent(c.name)+`), 0) + 1 FROM `+src+`), false)`,
				"pg_temp."+quoteIdent(t), c.name); err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
