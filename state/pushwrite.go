package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pushes at any daemon. With several daemons on one PostgreSQL state, the
// IdP's SCIM client (and a notification sender) may reach any of them; the
// connection's lease holder runs it. A push write therefore lands at
// whichever daemon received it, and the run is triggered on the holder
// through PostgreSQL's LISTEN/NOTIFY.
//
// What a push write is allowed without the lease, precisely: the pushed
// resource rows (scim_resources, never fenced) and the snapshot rows and
// dirty marks ApplyChanges writes — nothing else. It is safe because the
// fence protects what only the lease holder may move: the cursor and
// generation (a stale puller must not move them back), the outbox, the
// applied records and the clearing of dirty marks (a stale runner must not
// apply or forget an op twice). A push connection's snapshot has no puller:
// its only writers are push requests, which carry the IdP's truth, not a
// daemon's view that can go stale; two of them at two daemons are
// serialised by a per-connection advisory lock (PushLock), so each sees
// the last one's commit. A dirty mark a push adds is the request for a run;
// the holder's run reads and clears the marks under its own lease.

// PushLock makes tx a push write of conn: on PostgreSQL it takes conn's
// push lock for the transaction (held until commit or rollback; push
// writes of one connection at different daemons queue there), and lets
// ApplyChanges write conn's snapshot without this daemon holding conn's
// lease. On SQLite (one daemon, one connection) it changes nothing.
func (tx *Tx) PushLock(conn string) error {
	if !tx.store.d.postgres() {
		return nil
	}
	if err := tx.pushLock(conn); err != nil {
		return err
	}
	if tx.pushing == nil {
		tx.pushing = map[string]bool{}
	}
	tx.pushing[conn] = true
	return nil
}

// pushLock takes conn's push lock for the transaction, once. The lease
// holder takes it too: at the fence check of each writing transaction
// (before it writes a row a push may write: no deadlock between the two)
// and when a plan reads the dirty marks (Dirty), so a push at another daemon
// commits either before the plan reads the marks and the snapshot — and is
// planned — or after the plan cleared them — and marks anew. Without it a
// push committed between the plan's read and its ClearDirty would lose its
// mark.
func (tx *Tx) pushLock(conn string) error {
	if !tx.store.d.postgres() || tx.locked[conn] {
		return nil
	}
	if _, err := tx.tx.ExecContext(tx.ctx, `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, "idsync push "+conn); err != nil {
		return fmt.Errorf("state: take the push lock of %s: %w", conn, err)
	}
	if tx.locked == nil {
		tx.locked = map[string]bool{}
	}
	tx.locked[conn] = true
	return nil
}

// fencedOrPush is fenced, except in a push write of conn (PushLock).
func (tx *Tx) fencedOrPush(conn string) error {
	if tx.pushing[conn] {
		return nil
	}
	return tx.fenced(conn)
}

// Shared reports whether other daemons may write the store meanwhile (a
// PostgreSQL state): what a daemon keeps in memory of the database is then
// not necessarily what it holds.
func (s *Store) Shared() bool { return s.d.postgres() }

// runChannel is the NOTIFY channel on which daemons ask the holder of a
// connection's lease to run it. The payload is the state's schema, a
// newline and the connection's name: NOTIFY is per database, and two
// states in two schemas of one database must not run each other's
// connections.
const runChannel = "idsync_run"

// NotifyRun asks whichever daemon holds conn's lease to run it (a push or a
// notification reached a daemon that does not hold it). PostgreSQL only.
func (s *Store) NotifyRun(ctx context.Context, conn string) error {
	if !s.d.postgres() {
		return errors.New("state: run requests between daemons need a PostgreSQL state")
	}
	if _, err := s.leaseExec(ctx, `SELECT pg_notify(?, current_schema() || chr(10) || ?)`, runChannel, conn); err != nil {
		return fmt.Errorf("state: ask the daemon holding %s to run it: %w", conn, err)
	}
	return nil
}

// ListenRuns calls f with each connection another daemon asks to run
// (NotifyRun) until ctx ends, on a connection of its own; a lost connection
// is opened again after a pause (runs go on on the schedule meanwhile).
// PostgreSQL only; it returns at once on SQLite.
func (s *Store) ListenRuns(ctx context.Context, ready func(), f func(conn string)) {
	if !s.d.postgres() {
		return
	}
	pause := time.Second
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, ready, f)
		if ctx.Err() != nil {
			return
		}
		s.listenErr(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, ready func(), f func(string)) error {
	cfg, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		return errors.New("the state's URL does not parse as a PostgreSQL DSN")
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var schema string
	if err := c.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, `LISTEN `+runChannel); err != nil {
		return err
	}
	if ready != nil {
		ready()
	}
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if in, conn, ok := strings.Cut(n.Payload, "\n"); ok && in == schema {
			f(conn)
		}
	}
}

func (s *Store) listenErr(err error) {
	if s.OnListenError != nil && err != nil {
		s.OnListenError(err)
	}
}
