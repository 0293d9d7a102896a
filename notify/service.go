package notify

import (
	"context"
	"log/slog"
	"net/http"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
)

// Kinds of channel, as the state records them.
const (
	KindGraph = "graph" // a Graph subscription (Resource users or groups)
	KindOkta  = "okta"  // an Okta event hook (Resource eventHook)
)

// Conn is a connection whose IdP may notify idsync.
type Conn struct {
	Name string
	// Graph is set for an Entra connection: the daemon creates, renews and
	// deletes its subscriptions.
	Graph sources.Subscriber
	// Hooks is set for an Okta connection whose source can register event
	// hooks; Okta is true for every Okta connection (a hook may also be
	// set up by hand in the Okta console).
	Hooks sources.HookRegistrar
	Okta  bool
	// Public URLs of the connection's endpoints, as the IdP is told them.
	NotificationURL, LifecycleURL, HookURL string
}

// Defaults of a Service.
const (
	// DefaultLifetime is the expiry asked for a Graph subscription: well
	// inside Graph's 41,760 minutes for users and groups, so a subscription
	// the daemon stopped caring for (uninstalled, notify removed from the
	// config) goes away on its own within days.
	DefaultLifetime = 3 * 24 * time.Hour
	// DefaultRenewBefore: a subscription with less than this left is renewed.
	DefaultRenewBefore = 36 * time.Hour
	// DefaultCheckEvery is how often subscriptions are looked after
	// (created when missing, renewed when due).
	DefaultCheckEvery = 5 * time.Minute
	// DefaultVerifyEvery is how often each subscription is read back from
	// Graph, to notice one that was removed without a lifecycle event.
	DefaultVerifyEvery = time.Hour
	// DefaultQueue bounds the requests waiting for a worker.
	DefaultQueue = 1024
	// maxBody bounds a notification request's body.
	maxBody = 1 << 20
	// maxQueued bounds the bytes of the requests waiting for a worker.
	maxQueued = 32 << 20
)

// Service serves the notification endpoints and owns the subscriptions.
// Set its fields before Start; Conns is read again whenever its key
// changes (a configuration reload).
type Service struct {
	Store *state.Store
	// Trigger asks for a debounced run of a connection
	// (sync.Scheduler.Trigger).
	Trigger func(conn, reason string) bool
	// Conns returns the connections with notifications on, and a key that
	// changes when they do (the running configuration).
	Conns func() (key any, conns []Conn)
	// Owns reports whether this daemon holds the connection's lease (nil:
	// it holds every one, as with SQLite). The subscriptions' upkeep —
	// creating, renewing, deleting orphans, handling lifecycle events — is
	// done by the lease holder alone: two daemons doing it would delete
	// each other's subscriptions as orphans.
	Owns func(conn string) bool
	Log  *slog.Logger
	// Now is the clock deciding expiries and renewals (tests set it).
	Now func() time.Time

	Lifetime, RenewBefore, CheckEvery, VerifyEvery time.Duration
	// Workers check queued requests (default 2).
	Workers int

	mu       stdsync.Mutex
	key      any
	conns    map[string]*connState
	locks    map[string]*stdsync.Mutex // per connection: one subscription change at a time
	secrets  map[string][]secretEntry  // by connection
	pending  map[string]map[string]bool
	retired  map[string][]retiredEntry // by connection: subscriptions forgotten lately
	loadedAt time.Time
	counts   map[string]*counters
	verified map[string]time.Time
	// inLifecycle: lifecycle events being handled (connection, id, event).
	inLifecycle map[string]bool

	queue  chan delivery
	queued atomic.Int64 // bytes in queue
	ctx    context.Context
	wg     stdsync.WaitGroup
	mux    *http.ServeMux
}

type connState struct{ Conn }

type secretEntry struct {
	id, kind, resource, hash string
}

// retiredEntry is a subscription this process forgot (gone, replaced):
// notifications still in flight for it are genuine for a while.
type retiredEntry struct {
	secretEntry
	at time.Time
}

// retiredFor is how long a forgotten subscription's notifications are
// still taken.
const retiredFor = 10 * time.Minute

// delivery is one request waiting for a worker.
type delivery struct {
	conn, kind string // kind: graph | lifecycle | okta
	body       []byte
	at         time.Time
}

// New is a Service with the defaults.
func New(store *state.Store, trigger func(conn, reason string) bool, conns func() (any, []Conn), log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		Store: store, Trigger: trigger, Conns: conns, Log: log, Now: time.Now,
		Lifetime: DefaultLifetime, RenewBefore: DefaultRenewBefore, CheckEvery: DefaultCheckEvery,
		VerifyEvery: DefaultVerifyEvery, Workers: 2,
		locks: map[string]*stdsync.Mutex{}, counts: map[string]*counters{}, verified: map[string]time.Time{},
		pending: map[string]map[string]bool{},
	}
	s.ctx = context.Background()
	s.queue = make(chan delivery, DefaultQueue)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/notify/{conn}/graph", func(w http.ResponseWriter, r *http.Request) { s.serveGraph(w, r, "graph") })
	s.mux.HandleFunc("/notify/{conn}/graph/lifecycle", func(w http.ResponseWriter, r *http.Request) { s.serveGraph(w, r, "lifecycle") })
	s.mux.HandleFunc("/notify/{conn}/okta", s.serveOkta)
	return s
}

// ServeHTTP serves /notify/<connection>/...
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start starts the workers and the subscription upkeep; they stop when ctx
// ends (Wait waits for them). The HTTP endpoints must be reachable before
// Start: creating a Graph subscription calls them.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	for range max(s.Workers, 1) {
		s.wg.Go(func() { s.work(ctx) })
	}
	s.wg.Go(func() { s.upkeep(ctx) })
}

// Wait waits for the goroutines Start started.
func (s *Service) Wait() { s.wg.Wait() }

// Counts returns every connection's counters.
func (s *Service) Counts() map[string]Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Counts{}
	for name, c := range s.counts {
		out[name] = c.snapshot()
	}
	return out
}

func (s *Service) counter(name string) *counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.counts[name]
	if !ok {
		c = &counters{}
		s.counts[name] = c
	}
	return c
}

// lookup returns the notifying connection name, or nil.
func (s *Service) lookup(name string) *connState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	return s.conns[name]
}

func (s *Service) refreshLocked() {
	if s.Conns == nil {
		return
	}
	key, conns := s.Conns()
	if s.conns != nil && key == s.key {
		return
	}
	s.key = key
	s.conns = map[string]*connState{}
	for _, c := range conns {
		s.conns[c.Name] = &connState{Conn: c}
	}
}

func (s *Service) connNames() []*connState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	var out []*connState
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

func (s *Service) lock(name string) *stdsync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[name]
	if !ok {
		l = &stdsync.Mutex{}
		s.locks[name] = l
	}
	return l
}

// enqueue hands d to a worker; a full queue drops it (counted): a flood
// must not hold memory or the endpoint, and a dropped notification costs
// latency only (the schedule is the safety net).
func (s *Service) enqueue(c *counters, d delivery) {
	n := int64(len(d.body))
	if s.queued.Add(n) > maxQueued {
		s.queued.Add(-n)
		c.dropped.Add(1)
		return
	}
	select {
	case s.queue <- d:
	default:
		s.queued.Add(-n)
		c.dropped.Add(1)
	}
}

func (s *Service) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-s.queue:
			s.queued.Add(-int64(len(d.body)))
			switch d.kind {
			case KindOkta:
				s.processOkta(d)
			default:
				s.processGraph(d)
			}
		}
	}
}

func (s *Service) trigger(name, reason string) {
	s.counter(name).triggers.Add(1)
	if s.Trigger != nil {
		s.Trigger(name, reason)
	}
}

// secretsFor returns the connection's stored secret hashes; reload reads
// them from the state again (at most once a second, so a flood of forged
// requests cannot make the daemon read the database for each).
func (s *Service) secretsFor(name string, reload bool) ([]secretEntry, map[string]bool) {
	s.mu.Lock()
	stale := s.secrets == nil || (reload && time.Since(s.loadedAt) > time.Second)
	s.mu.Unlock()
	if stale {
		s.loadSecrets()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pend := map[string]bool{}
	for h := range s.pending[name] {
		pend[h] = true
	}
	return s.secrets[name], pend
}

func (s *Service) loadSecrets() {
	var subs []state.NotifySubscription
	err := s.Store.View(s.ctx, func(tx *state.Tx) error {
		var err error
		subs, err = tx.NotifySubscriptions("")
		return err
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadedAt = time.Now()
	if err != nil {
		s.Log.Warn("notify: cannot read the subscriptions from the state", "error", err)
		if s.secrets == nil {
			s.secrets = map[string][]secretEntry{}
		}
		return
	}
	m := map[string][]secretEntry{}
	for _, sub := range subs {
		m[sub.Connection] = append(m[sub.Connection], secretEntry{id: sub.ID, kind: sub.Kind, resource: sub.Resource, hash: sub.SecretHash})
	}
	s.secrets = m
}

// putSecret / dropSecret keep the cache in step with what this process
// writes to the state.
func (s *Service) putSecret(name string, e secretEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets == nil {
		s.secrets = map[string][]secretEntry{}
	}
	list := s.secrets[name][:0:0]
	for _, old := range s.secrets[name] {
		if old.id != e.id {
			list = append(list, old)
		}
	}
	s.secrets[name] = append(list, e)
}

func (s *Service) dropSecret(name, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []secretEntry
	for _, old := range s.secrets[name] {
		if old.id != id {
			list = append(list, old)
		} else {
			s.retireLocked(name, old)
		}
	}
	s.secrets[name] = list
}

func (s *Service) retireLocked(name string, e secretEntry) {
	if s.retired == nil {
		s.retired = map[string][]retiredEntry{}
	}
	now := time.Now()
	kept := []retiredEntry{{secretEntry: e, at: now}}
	for _, r := range s.retired[name] {
		if now.Sub(r.at) < retiredFor && len(kept) < 16 {
			kept = append(kept, r)
		}
	}
	s.retired[name] = kept
}

// retiredHash is the hash of subscription id if it was retired lately.
func (s *Service) retiredHash(name, id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.retired[name] {
		if r.id == id && time.Since(r.at) < retiredFor {
			return r.hash
		}
	}
	return ""
}

// checkGraph reports whether clientState is subscription id's; an id
// being created right now (not known yet) is checked against the
// clientStates in flight.
func (s *Service) checkGraph(name, id, clientState string) bool {
	for _, reload := range []bool{false, true} {
		entries, pend := s.secretsFor(name, reload)
		for _, e := range entries {
			if e.kind == KindGraph && e.id == id {
				return sameSecret(clientState, e.hash)
			}
		}
		if pend[hashSecret(clientState)] {
			return true
		}
	}
	if h := s.retiredHash(name, id); h != "" {
		return sameSecret(clientState, h)
	}
	return false
}

// checkOkta reports whether authorization is one of the connection's hook
// secrets.
func (s *Service) checkOkta(name, authorization string) bool {
	if authorization == "" {
		return false
	}
	for _, reload := range []bool{false, true} {
		entries, _ := s.secretsFor(name, reload)
		ok := false
		for _, e := range entries {
			// Every entry is compared: the time taken does not tell which.
			if e.kind == KindOkta && sameSecret(authorization, e.hash) {
				ok = true
			}
		}
		if ok {
			return true
		}
	}
	return false
}
