// Package entratest is an emulator of Microsoft Entra ID and the parts of
// Microsoft Graph v1.0 idsync reads, for tests, benchmarks and `idsync demo`.
//
// It is a real HTTPS server with its own CA. The authority side serves what
// azidentity calls for client credentials (OpenID metadata, the v2.0 token
// endpoint, with client secrets or certificate assertions); the Graph side
// serves users/delta(), groups/delta(), users/{id}, the recycle bin's users
// (directory/deletedItems, see deleted.go) and service principals' app role
// assignments with Graph's documented paging and delta semantics (see
// delta.go). Directory changes and faults are made with Go methods.
//
//	srv := entratest.NewServer()
//	defer srv.Close()
//	srv.LoadSample()
//	cfg := entra.Config{TenantID: srv.TenantID, ClientID: srv.ClientID,
//		ClientSecret: srv.ClientSecret, GraphURL: srv.GraphURL,
//		AuthorityURL: srv.AuthorityURL, CAFile: srv.CAFile}
package entratest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a running emulator. Its exported fields are what a connection's
// configuration needs; they do not change after NewServer.
type Server struct {
	URL          string // https://127.0.0.1:port
	GraphURL     string // URL + "/v1.0"
	AuthorityURL string // URL + "/"
	TenantID     string
	ClientID     string
	ClientSecret string
	// CAFile is a PEM file holding the CA that issued the server certificate
	// (for ca_file); CAPEM is its content.
	CAFile string
	CAPEM  []byte
	// CertificateFile holds a client certificate and its key (PEM) that the
	// token endpoint accepts for ClientID, for certificate_file.
	CertificateFile string

	// Page limits, as Graph documents them for directory delta queries.
	// Tests may lower them before reading.
	MaxPageSize    int // objects per delta page (200)
	MaxMemberLinks int // members@delta entries per page (500)
	// PartialUpdates makes incremental rounds report an updated user as
	// its id plus the changed properties only (see delta.go).
	PartialUpdates bool

	srv        *httptest.Server
	dir        string
	clientCert *x509.Certificate
	pool       *x509.CertPool

	mu         sync.Mutex
	seq        uint64 // last change stamp
	nextID     uint64
	epoch      int // delta tokens minted before the current epoch have expired
	users      map[string]*userRec
	userOrder  []*userRec
	groups     map[string]*groupRec
	groupOrder []*groupRec
	apps       map[string]*appRec
	tokens     map[string]time.Time
	faults     []*fault
	pageFaults []*pageFault
	hooks      []*hook
	calls      map[string]int

	// Change notifications (subscriptions.go).
	nt           notifier
	notifyDelay  time.Duration
	notifyClient *http.Client
}

// NewServer starts an emulator with an empty tenant. It panics if it cannot
// listen on loopback, like httptest.NewServer.
func NewServer() *Server {
	s := &Server{
		TenantID:       "7e4a5c1d-3b2f-4e6a-9c8d-0f1e2d3c4b5a",
		ClientID:       "1d0c9b8a-7f6e-4d5c-8b4a-39281706f5e4",
		ClientSecret:   "entratest-client-secret",
		MaxPageSize:    200,
		MaxMemberLinks: 500,
		users:          map[string]*userRec{},
		groups:         map[string]*groupRec{},
		apps:           map[string]*appRec{},
		tokens:         map[string]time.Time{},
		calls:          map[string]int{},
		nt:             notifier{subs: map[string]*Subscription{}, wake: make(chan struct{}, 1), done: make(chan struct{})},
	}
	if err := s.start(); err != nil {
		panic("entratest: " + err.Error())
	}
	return s
}

func (s *Server) start() error {
	ca, err := newTestCA()
	if err != nil {
		return err
	}
	cert, err := ca.serverCert()
	if err != nil {
		return err
	}
	clientCert, clientPEM, err := clientCertificate()
	if err != nil {
		return err
	}
	s.clientCert = clientCert
	s.dir, err = os.MkdirTemp("", "entratest")
	if err != nil {
		return err
	}
	s.CAFile = filepath.Join(s.dir, "ca.pem")
	s.CAPEM = ca.pem
	if err := os.WriteFile(s.CAFile, ca.pem, 0o600); err != nil {
		return err
	}
	s.CertificateFile = filepath.Join(s.dir, "client.pem")
	if err := os.WriteFile(s.CertificateFile, clientPEM, 0o600); err != nil {
		return err
	}
	s.pool = x509.NewCertPool()
	s.pool.AddCert(ca.cert)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// Clients that do not trust the CA are a tested case, not news.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	s.URL = s.srv.URL
	s.GraphURL = s.URL + "/v1.0"
	s.AuthorityURL = s.URL + "/"
	return nil
}

// Close stops the server and removes its files.
func (s *Server) Close() {
	select {
	case <-s.nt.done:
	default:
		close(s.nt.done)
	}
	s.srv.Close()
	os.RemoveAll(s.dir)
}

// CertPool holds the emulator's CA.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Client is a plain HTTP client that trusts the emulator's CA.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: s.pool},
		MaxIdleConnsPerHost: 8,
	}}
}

// Calls reports how many requests reached route since the start: "token",
// "openid-configuration", "users/delta", "users/{id}", "groups/delta",
// "deletedItems" (the recycle bin's user list), "deletedItems/{id}",
// "servicePrincipals", "appRoleAssignedTo" (faulted requests included).
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

func (s *Server) count(route string) { s.calls[route]++ }

// ExpireDeltaTokens makes every delta token issued so far answer 410 Gone,
// as Graph does once a token is older than its 7-day lifetime.
func (s *Server) ExpireDeltaTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
}

type fault struct {
	prefix     string
	status     int
	n          int
	retryAfter int
}

type pageFault struct {
	route  string
	page   int
	status int
}

// FailNext answers the next n Graph requests whose path (below /v1.0)
// starts with pathPrefix with status and a Graph error body. 429, 503 and
// 504 carry "Retry-After: 0".
func (s *Server) FailNext(pathPrefix string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{prefix: pathPrefix, status: status, n: n})
}

// Throttle answers the next n Graph requests whose path starts with
// pathPrefix ("" for all) with 429 Too Many Requests and Retry-After
// (whole seconds, as Graph sends it).
func (s *Server) Throttle(pathPrefix string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{prefix: pathPrefix, status: http.StatusTooManyRequests, n: n,
		retryAfter: int(retryAfter / time.Second)})
}

// FailPage answers page k (1 is the first request of a round, k counts the
// nextLinks followed) of the next users or groups delta round, or of the
// next listing of the recycle bin, with status, once. route is
// "users/delta", "groups/delta" or "deletedItems".
func (s *Server) FailPage(route string, k, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageFaults = append(s.pageFaults, &pageFault{route: route, page: k, status: status})
}

// takePageFault reports the status to fail page k of route with, or 0.
func (s *Server) takePageFault(route string, k int) int {
	for i, f := range s.pageFaults {
		if f.route == route && f.page == k {
			s.pageFaults = append(s.pageFaults[:i:i], s.pageFaults[i+1:]...)
			return f.status
		}
	}
	return 0
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("request-id", fmt.Sprintf("%016x", time.Now().UnixNano()))
	if rest, ok := strings.CutPrefix(r.URL.Path, "/v1.0/"); ok {
		s.serveGraph(w, r, rest)
		return
	}
	s.serveAuthority(w, r)
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, rest string) {
	if rest == "subscriptions" || strings.HasPrefix(rest, "subscriptions/") {
		if !s.authorized(r) {
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
			return
		}
		s.serveSubscriptions(w, r, rest)
		return
	}
	if r.Method != http.MethodGet {
		graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "entratest serves reads only")
		return
	}
	if !s.authorized(r) {
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	s.runHooks(routeOf(rest))
	if s.injectFault(w, rest) {
		return
	}
	if s.serveDeleted(w, r, rest) {
		return
	}
	switch {
	case rest == "users/delta()" || rest == "users/delta" || rest == "users/microsoft.graph.delta()":
		s.delta(w, r, "users/delta")
	case rest == "groups/delta()" || rest == "groups/delta" || rest == "groups/microsoft.graph.delta()":
		s.delta(w, r, "groups/delta")
	case strings.HasPrefix(rest, "servicePrincipals"):
		s.servicePrincipal(w, r, strings.TrimPrefix(rest, "servicePrincipals"))
	case strings.HasPrefix(rest, "users/") && !strings.Contains(rest[len("users/"):], "/"):
		s.getUser(w, r, rest[len("users/"):])
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+rest+"'.")
	}
}

// getUser serves GET /users/{id}, with $select.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count("users/{id}")
	u, ok := s.users[id]
	if !ok || u.state != stateLive {
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
		return
	}
	writeJSON(w, userJSON(u, selectSet(r.URL.Query().Get("$select"), defaultUserSelect), 0))
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

func (s *Server) injectFault(w http.ResponseWriter, rest string) bool {
	s.mu.Lock()
	var hit *fault
	for i, f := range s.faults {
		if strings.HasPrefix(rest, f.prefix) {
			hit = f
			if f.n--; f.n <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
			break
		}
	}
	if hit != nil {
		s.count(routeOf(rest))
	}
	s.mu.Unlock()
	if hit == nil {
		return false
	}
	writeFault(w, hit.status, hit.retryAfter)
	return true
}

func writeFault(w http.ResponseWriter, status, retryAfter int) {
	switch status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		graphError(w, status, "TooManyRequests", "Too many requests.")
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		graphError(w, status, "serviceNotAvailable", "The service is temporarily unavailable.")
	default:
		graphError(w, status, "generalException", "An unexpected error occurred (injected by entratest).")
	}
}

// routeOf names the route of rest (the path below /v1.0/) as Calls does.
func routeOf(rest string) string {
	lower := strings.ToLower(rest)
	switch {
	case strings.HasPrefix(rest, "users/delta"):
		return "users/delta"
	case strings.HasPrefix(rest, "groups/delta"):
		return "groups/delta"
	case strings.HasSuffix(rest, "/appRoleAssignedTo"):
		return "appRoleAssignedTo"
	case strings.HasPrefix(rest, "servicePrincipals"):
		return "servicePrincipals"
	case strings.HasPrefix(rest, "users/") && !strings.Contains(rest[len("users/"):], "/"):
		return "users/{id}"
	case strings.HasPrefix(lower, "directory/deleteditems/"):
		if seg := strings.Split(rest, "/"); len(seg) == 3 && isUserCast(seg[2]) {
			return "deletedItems"
		}
		return "deletedItems/{id}"
	}
	return rest
}

// graphError writes Graph's error shape.
func graphError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"innerError": map[string]string{
			"date":       time.Now().UTC().Format("2006-01-02T15:04:05"),
			"request-id": w.Header().Get("request-id"),
		},
	}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func jsonString(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// appendField appends ,"name":"value" (value JSON-escaped; "" as null,
// which is how Graph reports an unset string property).
func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	if value == "" {
		return append(b, "null"...)
	}
	return appendString(b, value)
}

func appendString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(v)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}
