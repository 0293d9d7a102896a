// Package oktatest is an Okta management API emulator for tests, demos and
// benchmarks: real HTTPS with its own CA, served like net/http/httptest.
//
// It follows the behaviour Okta documents and idsync relies on: users with
// search and filter (DEPROVISIONED users only in search or when a filter asks
// for them), limit/after paging with separate Link headers, millisecond
// timestamps, groups and members, app users and group assignments with a
// profile role, a System Log whose polling queries always answer a next link,
// X-Rate-Limit-Limit/Remaining/Reset per endpoint bucket with 429 E0000047,
// an eventually consistent search index, a settable clock, fault injection
// and a request counter. The directory is changed through Go methods.
//
//	srv := oktatest.NewServer()
//	defer srv.Close()
//	sample := srv.LoadSample()
//	// okta.Config{OrgURL: srv.URL, Token: srv.Token, CAFile: srv.CAFile}
package oktatest

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate-limit buckets, named after the endpoint templates of Okta's
// management rate-limit table.
const (
	BucketUsers     = "/api/v1/users"      // list, search, create
	BucketUser      = "/api/v1/users/{id}" // get one user
	BucketUsersMore = "/api/v1/users*"
	BucketGroups    = "/api/v1/groups"
	BucketGroup     = "/api/v1/groups/{id}"
	BucketGroupMore = "/api/v1/groups*" // members
	BucketApp       = "/api/v1/apps/{id}"
	BucketApps      = "/api/v1/apps*" // app users, app groups
	BucketLogs      = "/api/v1/logs"
	BucketOther     = "/api/v1/*"
	// BucketAll in SetRateLimit sets every bucket.
	BucketAll = "*"
)

// DefaultRateLimits are the per-minute limits of a typical workforce org.
var DefaultRateLimits = map[string]int{
	BucketUsers: 600, BucketUser: 2000, BucketUsersMore: 600,
	BucketGroups: 500, BucketGroup: 1000, BucketGroupMore: 500,
	BucketApp: 500, BucketApps: 100, BucketLogs: 120, BucketOther: 1200,
}

// Bucket names the rate-limit bucket a request path counts against.
func Bucket(path string) string {
	rest, ok := strings.CutPrefix(path, "/api/v1/")
	if !ok {
		return BucketOther
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch parts[0] {
	case "users":
		switch len(parts) {
		case 1:
			return BucketUsers
		case 2:
			return BucketUser
		}
		return BucketUsersMore
	case "groups":
		switch len(parts) {
		case 1:
			return BucketGroups
		case 2:
			return BucketGroup
		}
		return BucketGroupMore
	case "apps":
		if len(parts) == 2 {
			return BucketApp
		}
		return BucketApps
	case "logs":
		return BucketLogs
	}
	return BucketOther
}

// Server is a running emulator.
type Server struct {
	URL    string // https://127.0.0.1:port, the org URL
	Token  string // the SSWS API token it accepts
	CAFile string // PEM file of the CA that signed its certificate

	// RoleAttribute is the app user profile attribute assignments' roles go
	// in (default "role").
	RoleAttribute string

	ts  *httptest.Server
	dir string

	mu     sync.Mutex
	offset time.Duration
	lag    time.Duration
	st     *store

	limits  map[string]int
	rateWin time.Duration
	windows map[string]*window
	faults  []*Fault
	calls   map[string]int
	total   int

	oauthClients map[string]any
	bearer       map[string]time.Time

	hk hookState // event hooks (eventhooks.go)
}

type window struct {
	end      time.Time
	count    int
	peak     int
	consumed int
}

// NewServer starts an emulator with an empty org.
func NewServer() *Server {
	s := &Server{
		Token:         "00" + newID("tok") + newID("en"),
		RoleAttribute: "role",
		st:            newStore(),
		limits:        map[string]int{},
		rateWin:       time.Minute,
		windows:       map[string]*window{},
		calls:         map[string]int{},
		oauthClients:  map[string]any{},
		bearer:        map[string]time.Time{},
	}
	for k, v := range DefaultRateLimits {
		s.limits[k] = v
	}
	s.hooksInit()
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.ts.StartTLS()
	s.URL = s.ts.URL
	dir, err := os.MkdirTemp("", "oktatest")
	if err != nil {
		panic("oktatest: " + err.Error())
	}
	s.dir = dir
	s.CAFile = filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
	if err := os.WriteFile(s.CAFile, pemBytes, 0o600); err != nil {
		panic("oktatest: " + err.Error())
	}
	return s
}

// Close shuts the server down and removes its CA file.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.hk.done:
	default:
		close(s.hk.done)
	}
	s.mu.Unlock()
	s.ts.Close()
	os.RemoveAll(s.dir)
}

// Client returns an *http.Client that trusts the server's CA.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Now is the emulator's clock: the wall clock plus whatever Advance added.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time { return time.Now().Add(s.offset).UTC().Truncate(time.Millisecond) }

// Advance moves the clock forward by d (rate-limit windows, search lag and
// timestamps follow it). Tests pass it as the source's Sleep.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// SetSearchLag makes user changes visible to search only after d (search is
// eventually consistent on Okta; filter and get-by-id are not).
func (s *Server) SetSearchLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = d
}

// SetRateLimit sets the per-minute limit of bucket (BucketAll: every bucket).
func (s *Server) SetRateLimit(bucket string, perMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bucket == BucketAll {
		for k := range s.limits {
			s.limits[k] = perMinute
		}
		return
	}
	s.limits[bucket] = perMinute
}

// SetRateWindow sets the length of rate-limit windows (Okta: one minute;
// whole seconds). Short windows let tests with a real clock see pacing and
// 429 waits without waiting a minute.
func (s *Server) SetRateWindow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateWin = max(d.Truncate(time.Second), time.Second)
	clear(s.windows)
}

// ConsumeRateLimit spends n requests of bucket's current window, as the
// org's other API clients would.
func (s *Server) ConsumeRateLimit(bucket string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.window(bucket, s.now())
	w.count += n
	w.consumed += n
}

// PeakInWindow reports the most requests idsync made in one rate-limit
// window of bucket (requests spent by ConsumeRateLimit not counted).
func (s *Server) PeakInWindow(bucket string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.windows[bucket]; w != nil {
		return w.peak
	}
	return 0
}

// Requests reports how many API requests the server has answered (any
// status), in total or, with buckets, to those buckets.
func (s *Server) Requests(buckets ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(buckets) == 0 {
		return s.total
	}
	n := 0
	for _, b := range buckets {
		n += s.calls[b]
	}
	return n
}

// ResetRequests zeroes the request counters.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total = 0
	clear(s.calls)
}

// Fault makes matching requests fail. Status 0 with Drop closes the
// connection without an answer.
type Fault struct {
	Method string // "" = any
	Path   string // prefix of the URL path ("" = any)
	Status int    // answered status (with an Okta error body)
	Code   string // errorCode, default by status
	Times  int    // how many requests it hits; 0 = until cleared
	Drop   bool
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// AddOAuthClient registers a service app that gets bearer tokens from
// /oauth2/v1/token with a private_key_jwt client assertion signed by the
// private key of pub (an *rsa.PublicKey).
func (s *Server) AddOAuthClient(clientID string, pub any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauthClients[clientID] = pub
}

func (s *Server) window(bucket string, now time.Time) *window {
	w := s.windows[bucket]
	if w == nil {
		w = &window{}
		s.windows[bucket] = w
	}
	if !now.Before(w.end) {
		w.end = now.Truncate(time.Second).Add(s.rateWin)
		w.count, w.consumed = 0, 0
	}
	return w
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth2/v1/token" {
		s.token(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	w.Header().Set("Date", now.Format(http.TimeFormat))
	w.Header().Set("X-Okta-Request-Id", newID("req"))
	s.total++
	bucket := Bucket(r.URL.Path)
	s.calls[bucket]++

	if !s.authorized(r, now) {
		writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return
	}
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) {
			if f.Times > 0 {
				if f.Times--; f.Times == 0 {
					s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
				}
			}
			if f.Drop {
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
				}
			}
			code := f.Code
			if code == "" {
				code = defaultCode(f.Status)
			}
			writeError(w, f.Status, code, http.StatusText(f.Status))
			return
		}
	}

	limit := s.limits[bucket]
	win := s.window(bucket, now)
	h := w.Header()
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(limit))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(win.end.Unix(), 10))
	if win.count >= limit {
		h.Set("X-Rate-Limit-Remaining", "0")
		writeError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
		return
	}
	win.count++
	win.peak = max(win.peak, win.count-win.consumed)
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(limit-win.count))
	s.route(w, r, now)
}

func (s *Server) authorized(r *http.Request, now time.Time) bool {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "SSWS "); ok {
		return tok == s.Token
	}
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		exp, ok := s.bearer[tok]
		return ok && now.Before(exp)
	}
	return false
}

func defaultCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "E0000011"
	case http.StatusForbidden:
		return "E0000006"
	case http.StatusNotFound:
		return "E0000007"
	case http.StatusTooManyRequests:
		return "E0000047"
	case http.StatusBadRequest:
		return "E0000031"
	}
	return "E0000009"
}

// writeError answers the Okta error shape.
func writeError(w http.ResponseWriter, status int, code, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errorCode": code, "errorSummary": summary, "errorLink": code,
		"errorId": "oae" + newID(""), "errorCauses": []any{},
	})
}
