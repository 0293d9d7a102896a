package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	stdsync "sync"
	"time"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

// Several daemons on one PostgreSQL state (see state/lease.go): each daemon
// has an id, a record in the daemons table (host, pid, control socket) and
// a heartbeat; it holds leases on its share of the connections (the
// connections over the live daemons, rounded up), renews them every third
// of the lease time, takes over connections whose lease expired, and runs
// only the connections it holds. A CLI that writes (sync, approve) finds
// the daemon holding the connections it names in the leases table and
// sends the command to that daemon's control socket — a unix socket, so
// on the same host; for a connection held by a daemon on another host it
// says which one to run the command on. A CLI whose connections no daemon
// holds takes their leases itself for the command's duration.

// newDaemonID names a daemon: host, pid and a random part, unique even
// when a pid is reused.
func newDaemonID() string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", state.Hostname(), os.Getpid(), hex.EncodeToString(b[:]))
}

// pgControlPath is a PostgreSQL daemon's control socket: in a directory
// only this user can enter, named by the daemon id (several daemons may run
// on one host). The daemons table tells CLIs where it is.
func pgControlPath(id string) (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("idsync-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("control socket directory: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("control socket directory %s must be owner-only (0700)", dir)
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	path := filepath.Join(dir, fmt.Sprintf("%x.sock", h.Sum64()))
	return path, checkControlPath(path)
}

// leaser keeps a daemon's leases.
type leaser struct {
	store   *state.Store
	log     *slog.Logger
	self    state.Daemon
	ttl     time.Duration
	names   func() []string // the configured connections (the current app's)
	changed chan struct{}   // a connection was gained or lost (capacity 1)

	mu    stdsync.Mutex
	held  map[string]int64 // connection → token
	fresh map[string]bool  // gained since the scheduler last started
}

// startLeaser registers the daemon and takes its first leases before it
// returns, so the first scheduler has its connections.
func startLeaser(ctx context.Context, a *app, argv []string, names func() []string) (*leaser, error) {
	id := newDaemonID()
	control, err := pgControlPath(id)
	if err != nil {
		return nil, err
	}
	l := &leaser{
		store: a.store, log: a.log, ttl: a.cfg.StateOpts.Lease, names: names,
		self:    state.Daemon{ID: id, Host: state.Hostname(), PID: os.Getpid(), Command: commandLine(argv), Control: control, Started: time.Now()},
		changed: make(chan struct{}, 1),
		held:    map[string]int64{}, fresh: map[string]bool{},
	}
	a.store.Fence(id)
	a.store.FenceIdle(fenceIdle(l.ttl))
	l.tick(ctx)
	go func() {
		t := time.NewTicker(l.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				l.tick(ctx)
			}
		}
	}()
	return l, nil
}

// holds reports whether the daemon holds conn's lease; fresh whether it
// was gained since the last call of take.
func (l *leaser) holds(conn string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.held[conn]
	return ok
}

// take returns the connections gained since the last take (they run at
// once: a takeover resumes the previous holder's outbox first).
func (l *leaser) take() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.fresh
	l.fresh = map[string]bool{}
	return f
}

func (l *leaser) notify() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// tick heartbeats, renews what is held, and balances: takes expired or
// free leases up to the daemon's share, gives up what is over it.
func (l *leaser) tick(ctx context.Context) {
	if err := l.store.Heartbeat(ctx, l.self); err != nil {
		l.log.Warn("lease: heartbeat failed", "error", err)
		return
	}
	l.mu.Lock()
	held := copyTokens(l.held)
	l.mu.Unlock()
	changed := false
	// One statement renews them all: a renewal must never wait behind the
	// work of a thousand connections.
	renewed, err := l.store.RenewAll(ctx, l.self.ID, l.ttl)
	if err != nil {
		l.log.Warn("lease: renewal failed; retrying", "error", err)
		return // they may still be ours: the fence decides
	}
	for conn, token := range held {
		if renewed[conn] != token {
			l.log.Warn("lease lost: another daemon took the connection over (or the lease expired); stopping it here", "connection", conn, "token", token)
			l.drop(conn)
			changed = true
		}
	}
	names := l.names()
	live, err := l.store.LiveDaemons(ctx, l.ttl)
	if err != nil || live < 1 {
		live = 1
	}
	share := (len(names) + live - 1) / live
	l.mu.Lock()
	n := len(l.held)
	l.mu.Unlock()
	// Each daemon tries the connections in its own order, so daemons
	// starting together do not all race for the same ones.
	order := slices.Clone(names)
	sort.Slice(order, func(i, j int) bool { return l.rank(order[i]) < l.rank(order[j]) })
	var gained []string
	for _, conn := range order {
		// A bounded number per tick, so that the next renewal comes on
		// time however many connections are free.
		if n >= share || len(gained) >= maxTakesPerTick {
			break
		}
		if l.holds(conn) {
			continue
		}
		token, ok, err := l.store.Acquire(ctx, conn, l.self.ID, l.ttl)
		if err != nil {
			l.log.Warn("lease: take failed", "connection", conn, "error", err)
			continue
		}
		if !ok {
			continue
		}
		l.store.Grant(conn, token)
		gained = append(gained, conn)
		l.mu.Lock()
		l.held[conn] = token // fresh (run at once) once its previous runs are closed
		l.mu.Unlock()
		l.log.Info("lease taken", "connection", conn, "token", token)
		n++
		changed = true
	}
	// Over the share (a daemon joined, or connections were removed): give
	// the surplus up, last in this daemon's order first, and none in the
	// middle of a run.
	for i := len(order) - 1; i >= 0 && n > share; i-- {
		conn := order[i]
		l.mu.Lock()
		token, ok := l.held[conn]
		l.mu.Unlock()
		if !ok || l.running(ctx, conn) {
			continue // a run in progress is not cut short: give it up at a later tick
		}
		l.drop(conn)
		if err := l.store.Release(ctx, conn, l.self.ID, token); err != nil {
			l.log.Warn("lease: release failed (it expires instead)", "connection", conn, "error", err)
		}
		l.log.Info("lease given up to balance the daemons", "connection", conn)
		n--
		changed = true
	}
	// Leases of connections no longer configured.
	for conn, token := range held {
		if !slices.Contains(names, conn) && l.holds(conn) {
			l.drop(conn)
			l.store.Release(ctx, conn, l.self.ID, token)
			changed = true
		}
	}
	if len(gained) > 0 {
		// The previous holder's runs are closed on the store's connection,
		// which may be busy with runs: not in the tick's way, and before
		// the scheduler hears of the new connections (a run of one must
		// not be taken for the previous holder's).
		go func() {
			l.closeInterrupted(ctx, gained)
			l.mu.Lock()
			for _, conn := range gained {
				if _, ok := l.held[conn]; ok {
					l.fresh[conn] = true
				}
			}
			l.mu.Unlock()
			l.notify()
		}()
	} else if changed {
		l.notify()
	}
}

// fenceIdle is how long a fenced transaction may sit idle (see
// state.FenceIdle): a daemon paused inside one blocks the takeover of its
// connection that long after its lease ran out. Twice the lease, and at
// least a minute: the planning a run does between two statements of a
// transaction must never reach it.
func fenceIdle(ttl time.Duration) time.Duration { return max(2*ttl, time.Minute) }

// maxTakesPerTick bounds the leases one tick takes.
const maxTakesPerTick = 500

// closeInterrupted closes the runs the previous holders of conns left
// running.
func (l *leaser) closeInterrupted(ctx context.Context, conns []string) {
	var cut []state.Run
	if err := l.store.Update(ctx, func(tx *state.Tx) error {
		for _, conn := range conns {
			rs, err := tx.CloseInterruptedOf(conn)
			if err != nil {
				return err
			}
			cut = append(cut, rs...)
		}
		return nil
	}); err != nil {
		l.log.Warn("lease: closing the previous holders' runs failed", "error", err)
	}
	for _, r := range cut {
		l.log.Warn("run interrupted: its daemon stopped or lost the lease before it ended", "connection", r.Connection, "run", r.ID)
	}
}

// running reports whether conn has a run going (asked on the lease
// connection: the store's may be busy with runs).
func (l *leaser) running(ctx context.Context, conn string) bool {
	on, err := l.store.Running(ctx, conn)
	return on || err != nil
}

func (l *leaser) rank(conn string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(l.self.ID + "/" + conn))
	return h.Sum64()
}

func (l *leaser) drop(conn string) {
	l.store.Revoke(conn)
	l.mu.Lock()
	delete(l.held, conn)
	delete(l.fresh, conn)
	l.mu.Unlock()
}

// leave releases every lease and removes the daemon's record (a clean
// stop): the others take its connections at once.
func (l *leaser) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.store.Leave(ctx, l.self.ID); err != nil {
		l.log.Warn("lease: leaving failed; the leases expire instead", "error", err)
	}
}

func copyTokens(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// changes signals a gained or lost lease; nil (never) without a leaser.
func (l *leaser) changes() <-chan struct{} {
	if l == nil {
		return nil
	}
	return l.changed
}

// scheduled is the app a scheduler starts on, and whether c runs at once:
// without leases, a itself and every connection; with leases, only the
// connections the daemon holds, run at once when just gained.
func (l *leaser) scheduled(a *app) (*app, func(c *sync.Connection) bool) {
	if l == nil {
		return a, func(*sync.Connection) bool { return true }
	}
	fresh := l.take()
	return l.leased(a), func(c *sync.Connection) bool { return fresh[c.Name] }
}

// openPostgresDaemon is openDaemon for a PostgreSQL state: no state-wide
// lock (leases, taken by startLeaser, say who runs what), and runs left
// running are closed per connection when its lease is taken.
func openPostgresDaemon(ctx context.Context, g *globals, cfg *config.Config, file configFile) (*app, error) {
	a, err := newApp(ctx, g, cfg, true)
	if err != nil {
		return nil, err
	}
	if a.store, err = state.Open(ctx, cfg.State); err != nil {
		return nil, err
	}
	a.engine = sync.New(a.store, a.log)
	a.file = file
	return a, nil
}

// connNames lists a's configured connections.
func connNames(a *app) []string {
	var out []string
	for _, cc := range a.cfg.Connections {
		out = append(out, cc.Name)
	}
	return out
}

// leased is a with only the connections the daemon holds.
func (l *leaser) leased(a *app) *app {
	b := *a
	b.conns = nil
	b.byName = map[string]*sync.Connection{}
	for _, c := range a.conns {
		if l.holds(c.Name) {
			b.conns = append(b.conns, c)
			b.byName[c.Name] = c
		}
	}
	return &b
}

// openPostgresWriter is openWriter for a PostgreSQL state. The command's
// connections (those named on its command line, else all) are either held
// by one daemon on this host — the command is sent to it — or by none —
// this process takes their leases for the command's duration.
func openPostgresWriter(ctx context.Context, g *globals, cfg *config.Config, file configFile) (*app, error) {
	store, err := state.Open(ctx, cfg.State)
	if err != nil {
		return nil, err
	}
	var targets []string
	for _, cc := range cfg.Connections {
		if slices.Contains(g.argv[1:], cc.Name) {
			targets = append(targets, cc.Name)
		}
	}
	if len(targets) == 0 {
		for _, cc := range cfg.Connections {
			targets = append(targets, cc.Name)
		}
	}
	var leases []state.Lease
	if err := store.View(ctx, func(tx *state.Tx) (err error) { leases, err = tx.Leases(); return err }); err != nil {
		store.Close()
		return nil, err
	}
	owners := map[string]state.Lease{} // daemon id → one of its leases
	var held []string
	for _, l := range leases {
		if l.Live && slices.Contains(targets, l.Connection) {
			owners[l.Owner] = l
			held = append(held, fmt.Sprintf("%s by %s on %s (pid %d)", l.Connection, l.Owner, l.Host, l.PID))
		}
	}
	if len(owners) > 0 {
		store.Close()
		if len(owners) > 1 {
			return nil, fmt.Errorf("the connections are run by several daemons (%s): name one connection, or run the command where its daemon runs", strings.Join(held, "; "))
		}
		for _, l := range owners {
			if l.Host != state.Hostname() || l.Control == "" {
				return nil, fmt.Errorf("%s: run the command on that host (the control socket is a unix socket), or stop that daemon", strings.Join(held, "; "))
			}
			code, err := forward(ctx, l.Control, g, &file)
			if err != nil {
				return nil, fmt.Errorf("%s; and its control socket does not answer: %w", strings.Join(held, "; "), err)
			}
			return nil, &exitCode{code: code}
		}
	}
	// No daemon holds them: take their leases for this command.
	id := "cli-" + newDaemonID()
	store.Fence(id)
	ttl := cfg.StateOpts.Lease
	store.FenceIdle(fenceIdle(ttl))
	tokens := map[string]int64{}
	release := func() {
		for conn, token := range tokens {
			store.Release(context.WithoutCancel(ctx), conn, id, token)
		}
	}
	for _, conn := range targets {
		token, ok, err := store.Acquire(ctx, conn, id, ttl)
		if err == nil && !ok {
			err = fmt.Errorf("connection %s was just taken by a daemon; run the command again (it is then sent to that daemon)", conn)
		}
		if err != nil {
			release()
			store.Close()
			return nil, err
		}
		store.Grant(conn, token)
		tokens[conn] = token
	}
	renewCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-t.C:
				for conn, token := range tokens {
					if ok, err := store.Renew(renewCtx, conn, id, token, ttl); err == nil && !ok {
						store.Revoke(conn) // its next write fails: another daemon has it
					}
				}
			}
		}
	}()
	a, err := newApp(ctx, g, cfg, true)
	if err != nil {
		stop()
		release()
		store.Close()
		return nil, err
	}
	a.store = store
	a.engine = sync.New(store, a.log)
	a.onClose = func() { stop(); release() }
	return a, nil
}

// leaseOwners maps each connection to the daemon holding its lease.
func leaseOwners(tx *state.Tx) (map[string]*leaseOwner, error) {
	ls, err := tx.Leases()
	if err != nil {
		return nil, err
	}
	out := map[string]*leaseOwner{}
	for _, l := range ls {
		out[l.Connection] = &leaseOwner{ID: l.Owner, Host: l.Host, PID: l.PID, Token: l.Token, Expires: l.Expires, Live: l.Live}
	}
	return out, nil
}

func printOwner(g *globals, now time.Time, o *leaseOwner) {
	if o == nil {
		return
	}
	if !o.Live {
		fmt.Fprintf(g.stdout, "  daemon      none (last %s, lease %d expired %s ago)\n", o.ID, o.Token, ago(now, o.Expires))
		return
	}
	fmt.Fprintf(g.stdout, "  daemon      %s on %s (pid %d), lease %d\n", o.ID, o.Host, o.PID, o.Token)
}
