// Package scimtest is a SCIM 2.0 workspace server (RFC 7643/7644) for tests,
// `idsync demo` and benchmarks. Like net/http/httptest it listens on a
// loopback port; unlike a mock it is a real server with in-memory Users and
// Groups, filters, paging, PATCH in the RFC form and in the forms Entra and
// Okta send, 409 on duplicate userName, a strict mode per app preset, a
// request log and fault injection.
//
//	srv := scimtest.NewServer(scimtest.Options{Token: "t", Preset: "whale", Strict: true})
//	defer srv.Close()
//	// point a client at srv.URL (".../scim/v2") with bearer token "t"
package scimtest

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// Token is the bearer token requests must carry; "" accepts any request.
	Token string
	// Preset shapes the workspace like an app idsync has a preset for:
	// generic (default), whale, whimsical, whistleblower, officernd.
	Preset string
	// Strict makes the server enforce what the preset's vendor guide says:
	// attributes, role values and filters the app does not take are refused
	// (400), as are upper-case userNames and emails (whimsical), a change
	// to a name the user owns (whimsical), a user without externalId (whale,
	// officernd), a DELETE of a person (officernd: 405) and team members
	// that are not users (officernd); apps without groups have no /Groups.
	Strict bool
	// TLS serves HTTPS with a self-signed certificate (see CAFile, Client).
	TLS bool
	// PageSize caps count on list requests (default 100, like most apps).
	PageSize int
	// NoETags makes a workspace without resource versions (RFC 7644 §3.14
	// is optional): no ETag header, no meta.version, If-Match ignored. By
	// default every write bumps the resource's version, single-resource
	// answers carry it as ETag, and a PUT, PATCH or DELETE whose If-Match
	// names another version is refused with 412 Precondition Failed.
	NoETags bool
	// Bulk serves POST /Bulk (RFC 7644 §3.7) and advertises it in
	// /ServiceProviderConfig, with BulkMaxOperations operations and
	// BulkMaxPayload bytes per request at most (0 = the defaults, 1000 and
	// 1 MiB); a request over either is refused with 413.
	Bulk              bool
	BulkMaxOperations int
	BulkMaxPayload    int
}

// Server is a running SCIM workspace.
type Server struct {
	// URL is the SCIM base URL, e.g. http://127.0.0.1:41234/scim/v2.
	URL string
	// CAFile is a PEM file holding the TLS certificate (TLS only), for a
	// client's ca_file. It is removed by Close.
	CAFile string
	// CertPool trusts the TLS certificate (TLS only).
	CertPool *x509.CertPool

	opts   Options
	hs     *httptest.Server
	caDir  string
	preset presetRules

	mu      stdsync.Mutex
	token   string
	latency time.Duration
	faults  []*Fault
	log     []Request
	hook    func(Request)
	store   *store
	bulkOps int
}

// NewServer starts a Server on 127.0.0.1. It panics if it cannot listen,
// like httptest.NewServer.
func NewServer(opts Options) *Server {
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.Preset == "" {
		opts.Preset = "generic"
	}
	s := &Server{opts: opts, token: opts.Token, preset: rulesFor(opts.Preset), store: newStore()}
	s.hs = httptest.NewUnstartedServer(s.routes())
	// Dropped connections and clients without the CA are expected here.
	s.hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		s.hs.StartTLS()
		cert := s.hs.Certificate()
		s.CertPool = x509.NewCertPool()
		s.CertPool.AddCert(cert)
		dir, err := os.MkdirTemp("", "scimtest")
		if err != nil {
			panic("scimtest: " + err.Error())
		}
		s.caDir = dir
		s.CAFile = filepath.Join(dir, "ca.pem")
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
		if err := os.WriteFile(s.CAFile, pemBytes, 0o600); err != nil {
			panic("scimtest: " + err.Error())
		}
	} else {
		s.hs.Start()
	}
	s.URL = s.hs.URL + basePath
	return s
}

// Close stops the server and removes CAFile.
func (s *Server) Close() {
	s.hs.CloseClientConnections()
	s.hs.Close()
	if s.caDir != "" {
		os.RemoveAll(s.caDir)
	}
}

// Client returns an *http.Client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.hs.Client() }

// SetToken changes the accepted bearer token (to simulate a revoked or
// rotated token); "" accepts any request.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetLatency delays every request by d (a slow workspace).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetPageSize caps list pages at n from now on (n <= 0: 100), so a test
// can make a listing take several requests after the setup that made it.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		n = 100
	}
	s.opts.PageSize = n
}

// OnRequest calls f with each request once it has been served (or
// dropped), outside the server's lock: a crash test can cancel its run
// after the K-th write. nil removes the hook.
func (s *Server) OnRequest(f func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = f
}

// Request is one entry of the request log.
type Request struct {
	Time   time.Time
	Method string
	Path   string // without the /scim/v2 prefix, e.g. /Users/3
	Query  string
	Body   []byte
	Header http.Header // the request's headers (Authorization removed)
	Status int         // 0 when the connection was dropped before the request was served
	Fault  string      // the fault injected, if any
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// CountRequests counts logged requests with the method ("" = any) whose
// path starts with prefix.
func (s *Server) CountRequests(method, prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}
