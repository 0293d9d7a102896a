package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	pushscim "github.com/idsync/idsync/sources/scim"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

// scimPrefix is where push connections are served: /scim/v2/<connection>/.
const scimPrefix = "/scim/v2/"

// Failed authentications per client address: a burst of authFailBurst,
// then one per authFailEvery. Beyond, a wrong token from the address gets
// 429, unlogged; a right one is still served.
const (
	authFailBurst = 10
	authFailEvery = 6 * time.Second
	// tokenCacheTTL bounds how long the listener serves from tokens it read:
	// a token created or revoked by another process counts after it at the
	// latest (the daemon's own `idsync token` commands count at once).
	tokenCacheTTL = 5 * time.Second
	// tokenTouchEvery is how often last uses are written to the state.
	tokenTouchEvery = 30 * time.Second
)

// tokensChanged is bumped by `idsync token create|revoke` run in this
// process (by the daemon, for a CLI beside it): the listener reads the
// tokens again at its next request.
var tokensChanged atomic.Int64

// pushConn is one push connection's serving state: kept across reloads
// while its source block is unchanged.
type pushConn struct {
	name    string
	src     *pushscim.Source
	handler http.Handler
	slots   chan struct{} // max_concurrent
	mu      stdsync.Mutex
	perTok  map[string]*rate.Limiter // by token hash
}

// scimListener serves every push connection of the running configuration.
type scimListener struct {
	d     daemonHTTP
	log   *slog.Logger
	store *state.Store

	mu    stdsync.Mutex
	conns map[string]*pushConn
	// repos outlive reloads: a repo's copy of its rows must see every
	// write, so one connection has one repo.
	repos map[string]*pushscim.StateRepo

	tmu      stdsync.Mutex
	tokens   map[string][]state.Token // by connection, valid or not
	loadedAt time.Time
	epoch    int64
	used     map[string]time.Time // token hash → last use not yet written

	fmu   stdsync.Mutex
	fails map[string]*rate.Limiter // by client address
}

// mountSCIM serves the push connections at /scim/v2/<connection>/ on mux.
// The last uses of tokens are written until ctx ends.
func mountSCIM(ctx context.Context, mux *http.ServeMux, a *app, d daemonHTTP) {
	l := &scimListener{d: d, log: a.log, store: a.store,
		conns: map[string]*pushConn{}, repos: map[string]*pushscim.StateRepo{}, used: map[string]time.Time{}, fails: map[string]*rate.Limiter{}}
	mux.Handle(scimPrefix, l)
	go func() {
		t := time.NewTicker(tokenTouchEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				l.touch(context.WithoutCancel(ctx))
				return
			case <-t.C:
				l.touch(ctx)
			}
		}
	}()
}

// scimError writes an RFC 7644 error. The listener's own answers (auth,
// limits) say as little as the handler's would.
func scimError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"%d","detail":%q}`+"\n", status, detail)
}

// failKey is whose failed-authentication budget a client address spends:
// the address, or for IPv6 its /64 (one client holds a whole /64, and
// could otherwise start afresh at every request).
func failKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() || ip.Is4In6() {
		return addr
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (l *scimListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, scimPrefix)
	name, _, _ := strings.Cut(rest, "/")
	addr := clientAddr(r)
	pc := l.conn(name)
	// The token is looked at first (a hash and a map lookup): a right one
	// is served whatever the address's failures. Behind a proxy, a NAT or
	// the IdP's shared egress every client has one address, and anyone's
	// garbage must not lock the IdP out. Tokens are 256 random bits, so
	// the limit is not what stops guessing; it keeps refusals cheap and
	// out of the log.
	tok, why := l.authenticate(pc, name, r)
	if lim := l.failLimiter(failKey(addr), false); tok == nil && lim != nil && lim.Tokens() < 1 {
		w.Header().Set("Retry-After", strconv.Itoa(int(authFailEvery.Seconds())))
		scimError(w, http.StatusTooManyRequests, "too many failed authentications from this address; try again later")
		return
	}
	if tok == nil {
		// The same answer for an unknown connection, a missing, wrong,
		// expired or revoked token, or another connection's: nothing about
		// the connection is revealed. The log says why, never the token.
		l.failLimiter(failKey(addr), true).Allow()
		l.log.Warn("scim: refused a request", "connection", name, "client", addr, "reason", why, "method", r.Method, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="idsync"`)
		scimError(w, http.StatusUnauthorized, "a valid bearer token is required (idsync token create CONNECTION)")
		return
	}
	if lim := pc.limiter(tok); lim != nil && !lim.Allow() {
		w.Header().Set("Retry-After", "1")
		scimError(w, http.StatusTooManyRequests, fmt.Sprintf("more than %g requests per second with this token (source.rate_limit)", pc.src.Config.RateLimit))
		return
	}
	if !pc.acquire(r.Context()) {
		w.Header().Set("Retry-After", "1")
		scimError(w, http.StatusServiceUnavailable, fmt.Sprintf("more than %d requests at once (source.max_concurrent); try again", pc.src.Config.MaxConcurrent))
		return
	}
	defer func() { <-pc.slots }()
	r.Body = http.MaxBytesReader(w, r.Body, pc.src.Config.MaxBody)
	http.StripPrefix(scimPrefix+name, pc.handler).ServeHTTP(w, r)
}

// acquire takes a slot, waiting up to queue_wait for one.
func (pc *pushConn) acquire(ctx context.Context) bool {
	select {
	case pc.slots <- struct{}{}:
		return true
	default:
	}
	wait := pc.src.Config.QueueWait
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case pc.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// limiter is tok's rate limiter (nil: unlimited).
func (pc *pushConn) limiter(tok *state.Token) *rate.Limiter {
	rl := pc.src.Config.RateLimit
	if rl <= 0 {
		return nil
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	lim, ok := pc.perTok[tok.Hash]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(rl), max(1, int(2*rl)))
		pc.perTok[tok.Hash] = lim
	}
	return lim
}

// failLimiter is addr's failed-authentication limiter; create makes one
// when there is none (else nil).
func (l *scimListener) failLimiter(addr string, create bool) *rate.Limiter {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	lim, ok := l.fails[addr]
	if !ok && create {
		if len(l.fails) >= 10000 {
			// Bounded: an attacker with many addresses cannot grow it for
			// ever. Forgetting resets their budgets, never anyone's access.
			clear(l.fails)
		}
		lim = rate.NewLimiter(rate.Every(authFailEvery), authFailBurst)
		l.fails[addr] = lim
	}
	return lim
}

// conn is the serving state of the push connection name in the running
// configuration, or nil.
func (l *scimListener) conn(name string) *pushConn {
	a := l.d.app()
	c, ok := a.byName[name]
	if !ok {
		return nil
	}
	src, ok := c.Source.(*pushscim.Source)
	if !ok {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if pc, ok := l.conns[name]; ok && pc.src == src {
		return pc
	}
	// New, or its configuration was reloaded: limits start afresh.
	pc := &pushConn{name: name, src: src, slots: make(chan struct{}, src.Config.MaxConcurrent), perTok: map[string]*rate.Limiter{}}
	repo, ok := l.repos[name]
	if !ok {
		repo = pushscim.NewStateRepo(l.store, name)
		l.repos[name] = repo
	}
	pc.handler = pushscim.NewHandler(repo, pushscim.Options{
		// meta.location: source.base_url, else "" (the handler takes it
		// from the request).
		BaseURL: strings.TrimSuffix(src.Config.BaseURL, "/"),
		MaxBody: src.Config.MaxBody,
		OnChange: func(kind pushscim.Kind, id string) {
			l.d.trigger(name, "scim push")
		},
		Log: l.log.With("connection", name),
	})
	l.conns[name] = pc
	return pc
}

// authenticate returns the connection's valid token the request carries,
// or nil and why not (for the log).
func (l *scimListener) authenticate(pc *pushConn, name string, r *http.Request) (*state.Token, string) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, "no bearer token"
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	hash := []byte(hex.EncodeToString(sum[:]))
	if pc == nil {
		return nil, "no push connection of that name"
	}
	tokens, err := l.tokensOf(r.Context(), name)
	if err != nil {
		l.log.Error("scim: read tokens", "connection", name, "error", err)
		return nil, "tokens unreadable"
	}
	// Every token of the connection is compared, each in constant time.
	var match *state.Token
	for i := range tokens {
		if subtle.ConstantTimeCompare(hash, []byte(tokens[i].Hash)) == 1 {
			match = &tokens[i]
		}
	}
	now := time.Now()
	switch {
	case match == nil:
		return nil, "unknown token"
	case !match.Revoked.IsZero():
		return nil, "revoked token " + match.Name
	case !match.Valid(now):
		return nil, "expired token " + match.Name
	}
	l.tmu.Lock()
	l.used[match.Hash] = now
	l.tmu.Unlock()
	return match, ""
}

// tokensOf returns conn's tokens, read again when the cache is older than
// tokenCacheTTL or a token command ran in this process.
func (l *scimListener) tokensOf(ctx context.Context, conn string) ([]state.Token, error) {
	l.tmu.Lock()
	defer l.tmu.Unlock()
	if e := tokensChanged.Load(); l.tokens == nil || e != l.epoch || time.Since(l.loadedAt) > tokenCacheTTL {
		var all []state.Token
		if err := l.store.View(ctx, func(tx *state.Tx) (err error) { all, err = tx.Tokens(""); return err }); err != nil {
			return nil, err
		}
		l.tokens = map[string][]state.Token{}
		for _, t := range all {
			l.tokens[t.Connection] = append(l.tokens[t.Connection], t)
		}
		l.loadedAt, l.epoch = time.Now(), e
	}
	return l.tokens[conn], nil
}

// touch writes the last uses seen since the previous touch.
func (l *scimListener) touch(ctx context.Context) {
	l.tmu.Lock()
	used := l.used
	l.used = map[string]time.Time{}
	l.tmu.Unlock()
	if len(used) == 0 {
		return
	}
	if err := l.store.Update(ctx, func(tx *state.Tx) error { return tx.TouchTokens(used) }); err != nil {
		l.log.Warn("scim: record the tokens' last use", "error", err)
	}
}

// pushSchedule sets a push connection's debounce on its schedule.
func pushSchedule(c *sync.Connection, s sync.Schedule) sync.Schedule {
	if src, ok := c.Source.(*pushscim.Source); ok {
		s.Debounce = src.Config.Debounce
	}
	return s
}
