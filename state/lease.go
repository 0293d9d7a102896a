package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	stdsync "sync"
	"time"
)

// Leases let several daemons share one (PostgreSQL) database: each
// connection is run by the daemon holding its lease, a row (owner, expiry,
// token). A daemon renews its leases while it runs; when it dies, another
// takes each lease over once it has expired, with token+1.
//
// The token fences writes. Once a store is Fenced, every transaction that
// moves a connection's cursor, writes its snapshot, records an applied op
// or changes its outbox first checks, inside that transaction, that this
// daemon holds the connection's lease with the token it was granted and
// that it has not expired (by the database's clock), and locks the lease
// row FOR KEY SHARE until the transaction ends: a takeover (which locks it
// FOR UPDATE) cannot happen before it ends, while the holder's renewals
// (plain UPDATEs) do not wait for it; and a daemon that was paused (GC,
// SIGSTOP, a partition) past its lease cannot write once it wakes — its
// transaction fails with ErrLeaseLost. Holding is the same check outside a
// transaction, asked before each request to the workspace.
//
// With SQLite the state's flock (Lock) is the one-writer rule and stores
// are not fenced.

// ErrNotLeased: a fenced store was asked to write a connection it holds no
// lease for.
var ErrNotLeased = errors.New("this daemon holds no lease on the connection")

// ErrLeaseLost: the lease expired or another daemon took it over; nothing
// of the transaction is written.
var ErrLeaseLost = errors.New("this daemon's lease on the connection expired or was taken over; nothing written")

// Lease is one connection's lease row, with what is known of its owner.
type Lease struct {
	Connection string
	Owner      string // daemon id
	Token      int64
	Expires    time.Time // by the database's clock
	Live       bool      // not expired (at the time of the read)
	// The owner's record (empty when it has none).
	Host    string
	PID     int
	Control string // the owner's control socket on Host
}

// Daemon is a daemon's record in the database.
type Daemon struct {
	ID      string
	Host    string
	PID     int
	Command string
	Control string // its control socket, a unix socket path on Host
	Started time.Time
}

type fencing struct {
	idle   time.Duration // see FenceIdle
	mu     stdsync.Mutex
	owner  string
	tokens map[string]int64
}

// Fence makes every writing transaction of the store check the lease of
// each connection it writes (see Leases above), as daemon owner. Grant and
// Revoke say which leases it holds.
func (s *Store) Fence(owner string) {
	s.fence = &fencing{owner: owner, tokens: map[string]int64{}}
}

// FenceIdle bounds how long a fenced transaction may sit idle between
// statements (PostgreSQL's idle_in_transaction_session_timeout, set for
// that transaction only): the server then ends the session and rolls it
// back. A daemon paused inside a fenced transaction holds its lease row
// locked; without the bound, no other daemon could ever take the
// connection over while the pause lasts. Zero: no bound.
func (s *Store) FenceIdle(d time.Duration) {
	s.fence.idle = d
}

// Grant records that the store's owner holds conn's lease with token.
func (s *Store) Grant(conn string, token int64) {
	s.fence.mu.Lock()
	defer s.fence.mu.Unlock()
	s.fence.tokens[conn] = token
}

// Revoke forgets conn's lease: writes to it fail from now on.
func (s *Store) Revoke(conn string) {
	s.fence.mu.Lock()
	defer s.fence.mu.Unlock()
	delete(s.fence.tokens, conn)
}

// Fence checks (and on PostgreSQL locks, until the transaction ends) that
// this daemon still holds conn's lease, as every write of conn does first:
// a transaction that goes on in savepoints takes it before the first one.
func (tx *Tx) Fence(conn string) error { return tx.fenced(conn) }

// fenced checks, once per transaction and connection, that a fenced store
// still holds conn's lease (see above). Unfenced stores pass.
func (tx *Tx) fenced(conn string) error {
	f := tx.store.fence
	if f == nil || tx.checked[conn] {
		return nil
	}
	f.mu.Lock()
	token, ok := f.tokens[conn]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("state: %s: %w", conn, ErrNotLeased)
	}
	rows, err := queryAll(tx, scanInt64, `SELECT token FROM leases WHERE connection = ? AND owner = ? AND token = ? AND expires_at > `+
		tx.store.d.nowMillis()+tx.store.d.forKeyShare(), conn, f.owner, token)
	if err != nil {
		return fmt.Errorf("state: check the lease of %s: %w", conn, err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("state: %s (token %d): %w", conn, token, ErrLeaseLost)
	}
	if f.idle > 0 && tx.store.d.postgres() && len(tx.checked) == 0 {
		if _, err := tx.tx.ExecContext(tx.ctx, fmt.Sprintf(`SET LOCAL idle_in_transaction_session_timeout = %d`, f.idle.Milliseconds())); err != nil {
			return fmt.Errorf("state: bound the fenced transaction: %w", err)
		}
	}
	// Pushes at other daemons write the snapshot too (pushwrite.go).
	if err := tx.pushLock(conn); err != nil {
		return err
	}
	if tx.checked == nil {
		tx.checked = map[string]bool{}
	}
	tx.checked[conn] = true
	return nil
}

// Holding reports (nil) whether a fenced store still holds conn's lease,
// asked on the lease connection outside any transaction: the engine asks
// before each request it sends the workspace, so a daemon whose lease
// ended — paused past it, or waiting to retry — does not send ops the new
// holder is sending too (a delete landing after the id was reused). Only a
// request already in flight can still land. Unfenced stores pass.
func (s *Store) Holding(ctx context.Context, conn string) error {
	f := s.fence
	if f == nil {
		return nil
	}
	f.mu.Lock()
	token, ok := f.tokens[conn]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("state: %s: %w", conn, ErrNotLeased)
	}
	rows, err := s.leaseQuery(ctx, `SELECT token FROM leases WHERE connection = ? AND owner = ? AND token = ? AND expires_at > `+s.d.nowMillis(), conn, f.owner, token)
	if err != nil {
		return fmt.Errorf("state: check the lease of %s: %w", conn, err)
	}
	defer rows.Close()
	held := rows.Next()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("state: check the lease of %s: %w", conn, err)
	}
	if !held {
		return fmt.Errorf("state: %s (token %d): %w", conn, token, ErrLeaseLost)
	}
	return nil
}

func scanInt64(r *sql.Rows) (int64, error) {
	var v int64
	return v, r.Scan(&v)
}

// leaseDB is the handle leases are taken and renewed on. With PostgreSQL it
// is a connection of its own, so a renewal never queues behind the
// store's long transactions (a page of a full read, a plan).
func (s *Store) leaseDB() (*sql.DB, error) {
	if !s.d.postgres() {
		return s.db, nil
	}
	s.leaseOnce.Do(func() {
		s.lease, s.leaseErr = pgOpen(s.dsn)
		if s.leaseErr == nil {
			s.lease.SetMaxOpenConns(1)
		}
	})
	return s.lease, s.leaseErr
}

func (s *Store) leaseExec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	db, err := s.leaseDB()
	if err != nil {
		return nil, err
	}
	return db.ExecContext(ctx, s.d.rebind(query), s.d.args(args)...)
}

func (s *Store) leaseQuery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	db, err := s.leaseDB()
	if err != nil {
		return nil, err
	}
	return db.QueryContext(ctx, s.d.rebind(query), s.d.args(args)...)
}

// Acquire takes conn's lease for owner for ttl if it is free or has
// expired (a takeover: the token grows). ok is false while another daemon
// (or owner itself, unexpired: see Renew) holds it.
func (s *Store) Acquire(ctx context.Context, conn, owner string, ttl time.Duration) (token int64, ok bool, err error) {
	db, err := s.leaseDB()
	if err != nil {
		return 0, false, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("state: take the lease of %s: %w", conn, err)
	}
	defer tx.Rollback()
	q := func(query string, args ...any) (*sql.Rows, error) {
		return tx.QueryContext(ctx, s.d.rebind(query), s.d.args(args)...)
	}
	// A fenced transaction of the holder (FOR KEY SHARE) may still be
	// committing on an expired lease: the takeover waits for a later tick
	// rather than block this daemon's lease connection (its renewals).
	locked, err := q(`SELECT 1 FROM leases WHERE connection = ?`+s.d.forUpdateSkipLocked(), conn)
	if err != nil {
		return 0, false, fmt.Errorf("state: take the lease of %s: %w", conn, err)
	}
	got := locked.Next()
	locked.Close()
	if !got {
		exists, err := q(`SELECT 1 FROM leases WHERE connection = ?`, conn)
		if err != nil {
			return 0, false, fmt.Errorf("state: take the lease of %s: %w", conn, err)
		}
		busy := exists.Next()
		exists.Close()
		if busy {
			return 0, false, nil
		}
	}
	now := s.d.nowMillis()
	rows, err := q(`INSERT INTO leases (connection, owner, token, expires_at, acquired_at)
		VALUES (?, ?, 1, `+now+` + ?, `+now+`)
		ON CONFLICT (connection) DO UPDATE SET owner = excluded.owner, token = leases.token + 1,
			expires_at = excluded.expires_at, acquired_at = excluded.acquired_at
		WHERE leases.expires_at <= `+now+`
		RETURNING token`, conn, owner, ttl.Milliseconds())
	if err != nil {
		return 0, false, fmt.Errorf("state: take the lease of %s: %w", conn, err)
	}
	if rows.Next() {
		if err := rows.Scan(&token); err != nil {
			rows.Close()
			return 0, false, fmt.Errorf("state: take the lease of %s: %w", conn, err)
		}
		ok = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, false, fmt.Errorf("state: take the lease of %s: %w", conn, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("state: take the lease of %s: %w", conn, err)
	}
	return token, ok, nil
}

// Renew extends owner's unexpired lease of conn with token by ttl. false:
// the lease expired or was taken over; the caller stops the connection
// (Revoke) — its writes would fail anyway.
func (s *Store) Renew(ctx context.Context, conn, owner string, token int64, ttl time.Duration) (bool, error) {
	now := s.d.nowMillis()
	res, err := s.leaseExec(ctx, `UPDATE leases SET expires_at = `+now+` + ? WHERE connection = ? AND owner = ? AND token = ? AND expires_at > `+now,
		ttl.Milliseconds(), conn, owner, token)
	if err != nil {
		return false, fmt.Errorf("state: renew the lease of %s: %w", conn, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RenewAll extends every unexpired lease owner holds by ttl in one
// statement (a daemon with a thousand connections renews them in one round
// trip) and returns the connections renewed with their tokens. A lease
// held before and missing now was lost.
func (s *Store) RenewAll(ctx context.Context, owner string, ttl time.Duration) (map[string]int64, error) {
	now := s.d.nowMillis()
	rows, err := s.leaseQuery(ctx, `UPDATE leases SET expires_at = `+now+` + ? WHERE owner = ? AND expires_at > `+now+` RETURNING connection, token`,
		ttl.Milliseconds(), owner)
	if err != nil {
		return nil, fmt.Errorf("state: renew leases: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var conn string
		var token int64
		if err := rows.Scan(&conn, &token); err != nil {
			return nil, fmt.Errorf("state: renew leases: %w", err)
		}
		out[conn] = token
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: renew leases: %w", err)
	}
	return out, nil
}

// Release gives owner's lease of conn up at once (it expires now); the
// next daemon to take it gets token+1.
func (s *Store) Release(ctx context.Context, conn, owner string, token int64) error {
	if _, err := s.leaseExec(ctx, `UPDATE leases SET expires_at = 0 WHERE connection = ? AND owner = ? AND token = ?`, conn, owner, token); err != nil {
		return fmt.Errorf("state: release the lease of %s: %w", conn, err)
	}
	return nil
}

// Running reports whether conn has a run still marked running, asked on
// the lease connection (never behind the store's transactions).
func (s *Store) Running(ctx context.Context, conn string) (bool, error) {
	rows, err := s.leaseQuery(ctx, `SELECT COUNT(*) FROM runs WHERE connection = ? AND result = ?`, conn, RunRunning)
	if err != nil {
		return false, fmt.Errorf("state: read runs: %w", err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		err = rows.Scan(&n)
	}
	if err == nil {
		err = rows.Err()
	}
	return n > 0, err
}

// Heartbeat records (or refreshes) daemon d as alive.
func (s *Store) Heartbeat(ctx context.Context, d Daemon) error {
	now := s.d.nowMillis()
	if _, err := s.leaseExec(ctx, `INSERT INTO daemons (id, host, pid, command, control, started_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, `+now+`)
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, control = excluded.control`,
		d.ID, d.Host, d.PID, d.Command, d.Control, d.Started.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("state: record daemon %s: %w", d.ID, err)
	}
	return nil
}

// Leave removes daemon id's record and releases its leases (a clean stop):
// the others take its connections at once instead of after the lease time.
func (s *Store) Leave(ctx context.Context, id string) error {
	if _, err := s.leaseExec(ctx, `UPDATE leases SET expires_at = 0 WHERE owner = ?`, id); err != nil {
		return fmt.Errorf("state: release the leases of %s: %w", id, err)
	}
	if _, err := s.leaseExec(ctx, `DELETE FROM daemons WHERE id = ?`, id); err != nil {
		return fmt.Errorf("state: remove daemon %s: %w", id, err)
	}
	return nil
}

// LiveDaemons counts the daemons seen within ttl, and forgets those not
// seen for ten times that.
func (s *Store) LiveDaemons(ctx context.Context, ttl time.Duration) (int, error) {
	now := s.d.nowMillis()
	if _, err := s.leaseExec(ctx, `DELETE FROM daemons WHERE seen_at < `+now+` - ?`, 10*ttl.Milliseconds()); err != nil {
		return 0, fmt.Errorf("state: forget stopped daemons: %w", err)
	}
	rows, err := s.leaseQuery(ctx, `SELECT COUNT(*) FROM daemons WHERE seen_at > `+now+` - ?`, ttl.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("state: count daemons: %w", err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		err = rows.Scan(&n)
	}
	if err == nil {
		err = rows.Err()
	}
	return n, err
}

// Leases lists every connection's lease with its owner's record.
func (tx *Tx) Leases() ([]Lease, error) {
	now := tx.store.d.nowMillis()
	ls, err := queryAll(tx, func(r *sql.Rows) (Lease, error) {
		var l Lease
		var exp int64
		var live int
		var host, control sql.NullString
		var pid sql.NullInt64
		err := r.Scan(&l.Connection, &l.Owner, &l.Token, &exp, &live, &host, &pid, &control)
		l.Expires = time.UnixMilli(exp)
		l.Live = live == 1
		l.Host, l.PID, l.Control = host.String, int(pid.Int64), control.String
		return l, err
	}, `SELECT l.connection, l.owner, l.token, l.expires_at, CASE WHEN l.expires_at > `+now+` THEN 1 ELSE 0 END,
		d.host, d.pid, d.control
		FROM leases l LEFT JOIN daemons d ON d.id = l.owner ORDER BY l.connection`)
	if err != nil {
		return nil, fmt.Errorf("state: read leases: %w", err)
	}
	return ls, nil
}

// Hostname is this machine's name as daemons record it.
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || strings.TrimSpace(h) == "" {
		return "localhost"
	}
	return h
}
