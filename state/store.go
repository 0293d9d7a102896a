// Package state is idsync's store: the snapshot of each connection's
// directory, its cursor, what was applied to the target, the outbox of
// planned ops, held plans and the provisioning log. It is a SQLite file
// (the default, nothing to install) or a PostgreSQL database (several
// daemons, see lease.go); one API, the SQL written once (dialect.go).
//
// All access goes through a Tx. The database has one writing connection, so
// there is one writer at a time and a Tx sees a stable database; code holding
// a Tx must not open another one. A SQLite file's View reads on connections
// of its own beside the writer (WAL), each seeing the last committed state.
// Across processes, only the holder of the state's Lock opens it for writing
// (Open); everyone else reads (OpenReadOnly).
package state

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	stdsync "sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is an open state database.
type Store struct {
	db *sql.DB
	// rdb, on a SQLite file opened for writing, is the pool View reads on
	// (readers beside the one writer: WAL). Reads on db queued for its one
	// connection behind every write, and its connection goes to a random
	// waiter (database/sql): a push write waited behind the engine's
	// per-op reads as well as its writes.
	rdb      *sql.DB
	path     string // the SQLite file, or the PostgreSQL DSN with its password hidden
	readOnly bool
	// stmts are the statements prepared on db (Tx.stmt). Only statements
	// whose texts the code fixes go here (a log query's LIMIT is part of its
	// text; the daemon's limits are constants), so their number is bounded.
	smu   stdsync.Mutex
	stmts map[string]*sql.Stmt
	// rstmts are the statements prepared on rdb, for View.
	rstmts map[string]*sql.Stmt
	d      *dialect
	dsn    string   // PostgreSQL: the DSN, for the scratch connections of dry runs
	fence  *fencing // set by Fence: writes check leases (lease.go)
	// OnListenError hears why ListenRuns lost its connection (pushwrite.go).
	OnListenError func(error)
	// lease is the handle leases are renewed on (leaseDB).
	lease     *sql.DB
	leaseErr  error
	leaseOnce stdsync.Once
	// Now stamps runs, events and cursors; tests replace it.
	Now func() time.Time
}

// ErrReadOnly is returned by Begin and Update on a store opened with
// OpenReadOnly.
var ErrReadOnly = errors.New("state: opened read-only")

// Open opens (creating if needed) the database at path for writing and
// applies any migrations it has not seen. Only the holder of the state's
// Lock may open it so: one writer per database, across processes. path is a
// file name, taken literally; the file and the ones SQLite keeps beside it
// are owner-only, in a directory created owner-only if it does not exist.
//
// A path that is a PostgreSQL URL (IsPostgres) opens that database instead.
func Open(ctx context.Context, path string) (*Store, error) {
	if IsPostgres(path) {
		return openPostgres(ctx, path, false)
	}
	if err := prepare(path); err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	q := url.Values{}
	// An 8 MB page cache (SQLite's default is 2 MB). It was 32 MB, for the
	// hundreds of thousands of rows a full read writes; but the cache is
	// memory outside Go's heap that the process keeps once filled, and
	// filling it (a 100,000-op outbox) took ~60 MB of a first sync's peak
	// RSS, while ingesting 200,000 users a page per transaction, a first
	// read's 300,000 changes in one transaction, a full evaluation of
	// 100,000 users and an incremental run on them measured the same with
	// 8 MB (within run-to-run noise; README, Performance).
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)", "cache_size(-8192)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	s, err := openDB(fileURI(path)+"?"+q.Encode(), path)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	if s.rdb, err = openReaders(path); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	return s, nil
}

// readers is how many connections View reads on beside the writer.
const readers = 4

// openReaders opens the read pool of the SQLite file at path: connections
// that cannot write (query_only) with SQLite's default page cache, each read
// a deferred transaction that sees one committed state of the database.
func openReaders(path string) (*sql.DB, error) {
	q := url.Values{}
	// rw, not rwc: a reader never creates the file (SQLite would make it
	// 0644); Open made it, owner-only (prepare).
	q.Set("mode", "rw")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", fileURI(path)+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(readers)
	db.SetMaxIdleConns(readers)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// OpenReadOnly opens the database at path for reading only (status, log,
// explain, dry runs): it never writes the file and never takes SQLite's
// write lock, so it never blocks the writer beside it. A database that does
// not exist yet reads as an empty one (nothing has run). A database a newer
// idsync must migrate first is an error: opening it read-only cannot.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if IsPostgres(path) {
		return openPostgres(ctx, path, true)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		// A private, empty, migrated in-memory database: status says "never",
		// a dry run plans a first read.
		s, err := openDB("file::memory:", path)
		if err != nil {
			return nil, err
		}
		if err := s.migrate(ctx); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("state: open %s: %w", path, err)
		}
		s.readOnly = true
		return s, nil
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	s, err := openDB(fileURI(path)+"?"+q.Encode(), path)
	if err != nil {
		return nil, err
	}
	s.readOnly = true
	missing, err := s.pendingMigrations(ctx)
	if err == nil && len(missing) > 0 {
		err = fmt.Errorf("the database needs migration %s, which only a writer applies: run `idsync sync` (or restart the daemon) with this version of idsync first",
			strings.Join(missing, ", "))
	}
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("state: open %s read-only: %w", path, err)
	}
	return s, nil
}

func openDB(dsn, path string) (*Store, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	// One connection: one writer, and transactions never wait on each other
	// inside a process (they queue for the connection instead). It also
	// keeps an in-memory database alive.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	return &Store{db: db, path: path, d: sqliteDialect, Now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.smu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	for _, st := range s.rstmts {
		st.Close()
	}
	s.stmts, s.rstmts = nil, nil
	s.smu.Unlock()
	if s.lease != nil && s.lease != s.db {
		s.lease.Close()
	}
	if s.rdb != nil {
		s.rdb.Close()
	}
	return s.db.Close()
}

// shared returns query as prepared on the database (reader: on the read
// pool), or nil.
func (s *Store) shared(query string, reader bool) *sql.Stmt {
	s.smu.Lock()
	defer s.smu.Unlock()
	if reader {
		return s.rstmts[query]
	}
	return s.stmts[query]
}

// share prepares queries on the database, after the transaction that used
// them first has ended. It takes the connection only if it is free within
// a moment (another transaction may hold it, and its owner may be waiting
// for this goroutine): a query not shared now is shared after a later
// transaction.
func (s *Store) share(queries []string, reader bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
	defer cancel()
	db, stmts := s.db, &s.stmts
	if reader {
		db, stmts = s.rdb, &s.rstmts
	}
	for _, q := range queries {
		if s.shared(q, reader) != nil {
			continue
		}
		st, err := db.PrepareContext(ctx, s.d.rebind(q))
		if err != nil {
			return
		}
		s.smu.Lock()
		if _, dup := (*stmts)[q]; dup {
			st.Close()
		} else {
			if *stmts == nil {
				*stmts = map[string]*sql.Stmt{}
			}
			(*stmts)[q] = st
		}
		s.smu.Unlock()
	}
}

// CopyTo writes a consistent copy of the database to the file path (which
// must not exist), from one read transaction: the writer beside it is not
// blocked. A dry run plans on such a copy. The copy is owner-only, like the
// database.
func (s *Store) CopyTo(ctx context.Context, path string) error {
	if s.d.postgres() {
		return fmt.Errorf("state: copy %s: a PostgreSQL state is not copied to a file (dry runs use Scratch)", s.path)
	}
	// Created here, 0600 and empty (VACUUM INTO fills an empty file): SQLite
	// would create it 0644.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return fmt.Errorf("state: copy %s: %w", s.path, err)
	}
	f.Close()
	// VACUUM INTO is SQLite's online copy; the PostgreSQL store plans dry
	// runs on temporary tables instead (Scratch).
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("state: copy %s: %w", s.path, err)
	}
	return nil
}

// migrationNames lists the embedded migrations in the order they apply.
// A migration is one portable file, migrations/NNNN_name.sql; where a
// dialect cannot share it, NNNN_name.sqlite.sql and NNNN_name.postgres.sql
// replace it (migrationBody), under the one name NNNN_name.sql.
func migrationNames() ([]string, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	var names []string
	for _, f := range files {
		for _, d := range []*dialect{sqliteDialect, postgresDialect} {
			f = strings.Replace(f, "."+d.name+".sql", ".sql", 1)
		}
		if !slices.Contains(names, f) {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	return names, err
}

// migrationBody is the text of migration name for dialect d: its variant
// for d if it has one, else the portable file.
func migrationBody(name string, d *dialect) ([]byte, error) {
	if b, err := migrations.ReadFile(strings.TrimSuffix(name, ".sql") + "." + d.name + ".sql"); err == nil {
		return b, nil
	}
	b, err := migrations.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("migration %s has no text for %s: %w", name, d.name, err)
	}
	return b, nil
}

// pendingMigrations lists the migrations the database has not recorded,
// from a read transaction: opening a current database writes nothing.
func (s *Store) pendingMigrations(ctx context.Context) ([]string, error) {
	names, err := migrationNames()
	if err != nil {
		return nil, err
	}
	var missing []string
	err = s.View(ctx, func(tx *Tx) error {
		var n int
		if err := tx.tx.QueryRowContext(ctx, s.d.tableExists(), "migrations").Scan(&n); err != nil {
			return fmt.Errorf("read migrations: %w", err)
		}
		if n == 0 {
			missing = names
			return nil
		}
		done, err := queryAll(tx, func(r *sql.Rows) (string, error) {
			var name string
			return name, r.Scan(&name)
		}, `SELECT name FROM migrations`)
		if err != nil {
			return fmt.Errorf("read migrations: %w", err)
		}
		for _, name := range names {
			if !slices.Contains(done, name) {
				missing = append(missing, name)
			}
		}
		return nil
	})
	return missing, err
}

// migrate applies the migrations the database lacks. It checks in a read
// transaction first and writes only when one is missing.
func (s *Store) migrate(ctx context.Context) error {
	if missing, err := s.pendingMigrations(ctx); err != nil || len(missing) == 0 {
		return err
	}
	return s.update(ctx, func(tx *Tx) error {
		if err := s.d.lockMigrations(ctx, tx.tx); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		if _, err := tx.tx.ExecContext(ctx, s.d.migration(`CREATE TABLE IF NOT EXISTS migrations (name TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)`)); err != nil {
			return fmt.Errorf("create migrations table: %w", err)
		}
		names, err := migrationNames()
		if err != nil {
			return err
		}
		for _, name := range names {
			var n int
			if err := tx.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
				return fmt.Errorf("read migrations: %w", err)
			}
			if n > 0 {
				continue
			}
			body, err := migrationBody(name, s.d)
			if err != nil {
				return err
			}
			for _, stmt := range strings.Split(string(body), ";\n") {
				if strings.TrimSpace(stripComments(stmt)) == "" {
					continue
				}
				if _, err := tx.tx.ExecContext(ctx, s.d.migration(stmt)); err != nil {
					return fmt.Errorf("migration %s: %w", name, err)
				}
			}
			if _, err := tx.tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`, name, tx.now()); err != nil {
				return fmt.Errorf("record migration %s: %w", name, err)
			}
		}
		return nil
	})
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// Tx is a transaction on the store.
type Tx struct {
	tx    *sqlTx
	ctx   context.Context
	store *Store
	stmts map[string]*sql.Stmt
	// unshared are the queries this transaction prepared that the store
	// has not prepared yet (shared after it ends).
	unshared []string
	// checked: the connections whose lease this transaction has checked
	// (and locked) already, on a fenced store.
	checked map[string]bool
	// pushing: the connections this transaction is a push write of
	// (PushLock, pushwrite.go).
	pushing map[string]bool
	// locked: the connections whose push lock this transaction holds.
	locked map[string]bool
	// reader: on the read pool (Store.rdb), whose statements are its own.
	reader bool
}

// Begin starts a writing transaction. The caller must Commit or Rollback it.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	if s.readOnly {
		return nil, fmt.Errorf("%w: %s", ErrReadOnly, s.path)
	}
	return s.begin(ctx, nil)
}

// update is Update without the read-only check: a PostgreSQL reader
// migrates a database that has no tables yet (see openPostgres).
func (s *Store) update(ctx context.Context, f func(*Tx) error) error {
	tx, err := s.begin(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) begin(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("state: begin: %w", err)
	}
	return &Tx{tx: &sqlTx{Tx: tx, d: s.d}, ctx: ctx, store: s}, nil
}

// Commit commits the transaction.
func (tx *Tx) Commit() error {
	tx.closeStmts()
	if err := tx.tx.Commit(); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	tx.shareStmts()
	return nil
}

// Rollback abandons the transaction; it is safe after Commit.
func (tx *Tx) Rollback() error {
	tx.closeStmts()
	if err := tx.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("state: rollback: %w", err)
	}
	tx.shareStmts()
	return nil
}

// Update runs f in a transaction and commits it if f returns nil.
func (s *Store) Update(ctx context.Context, f func(*Tx) error) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// View runs f in a read transaction, always rolled back. It takes no write
// lock (a deferred BEGIN): a reader never blocks the writer, in this
// process or another.
//
// On PostgreSQL the transaction is REPEATABLE READ: like SQLite's, it sees
// one state of the database from start to end.
func (s *Store) View(ctx context.Context, f func(*Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d.postgres() {
		opts.Isolation = sql.LevelRepeatableRead
	}
	if s.rdb != nil {
		return s.read(ctx, opts, f)
	}
	tx, err := s.begin(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return f(tx)
}

// read is View on the read pool.
func (s *Store) read(ctx context.Context, opts *sql.TxOptions, f func(*Tx) error) error {
	t, err := s.rdb.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("state: begin: %w", err)
	}
	tx := &Tx{tx: &sqlTx{Tx: t, d: s.d}, ctx: ctx, store: s, reader: true}
	defer tx.Rollback()
	return f(tx)
}

func (tx *Tx) now() string { return tx.store.Now().UTC().Format(time.RFC3339Nano) }

// stmt returns a statement prepared once per store and bound to the
// transaction once: pages of thousands of changes reuse a handful of
// statements, and the many small transactions of the push listener do not
// parse their SQL again each time (SQLite's prepare was a tenth of a
// listener request's CPU).
func (tx *Tx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := tx.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if shared := tx.store.shared(query, tx.reader); shared != nil {
		st = tx.tx.StmtContext(tx.ctx, shared)
	} else {
		// Prepared on the transaction's connection (the store's only one:
		// preparing on the database now would wait for it for ever), and on
		// the database once the transaction is over.
		var err error
		if st, err = tx.tx.PrepareContext(tx.ctx, query); err != nil {
			return nil, err
		}
		tx.unshared = append(tx.unshared, query)
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[query] = st
	return st, nil
}

func (tx *Tx) exec(query string, args ...any) (sql.Result, error) {
	st, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(tx.ctx, tx.tx.d.args(args)...)
}

func (tx *Tx) closeStmts() {
	for _, st := range tx.stmts {
		st.Close()
	}
	tx.stmts = nil
}

// shareStmts shares the statements the ended transaction prepared itself.
func (tx *Tx) shareStmts() {
	if len(tx.unshared) > 0 {
		tx.store.share(tx.unshared, tx.reader)
		tx.unshared = nil
	}
}

// cachedArgs: a query of at most this many arguments runs as a statement
// prepared once per store (Tx.stmt). Longer ones (IN lists of many ids)
// have too many texts to keep and are prepared each time. The engine's
// per-op reads of one id spent a quarter of its CPU in SQLite's parser.
const cachedArgs = 4

// scanAll collects every row before the caller issues its next statement
// (one connection: an open Rows would block it).
func queryAll[T any](tx *Tx, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	var rows *sql.Rows
	var err error
	if len(args) <= cachedArgs {
		var st *sql.Stmt
		if st, err = tx.stmt(query); err == nil {
			rows, err = st.QueryContext(tx.ctx, tx.tx.d.args(args)...)
		}
	} else {
		rows, err = tx.tx.QueryContext(tx.ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
