package httppolicy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	stdsync "sync"
	"time"
)

// Options configure one backend's transport. The zero values are the
// defaults, except Origins, which is required.
type Options struct {
	// Name is the backend ("entra", "okta", "scim", "webhook"), for logs.
	Name string
	// Origins lists the URLs (only their scheme, host and port count) that
	// requests may go to; any other origin is refused before it is
	// contacted.
	Origins []string
	// CAFile adds PEM roots to the system ones (private CAs,
	// TLS-inspecting proxies).
	CAFile string
	// Base replaces the transport built here (tests, callers' proxies);
	// the policy still wraps it. With CAFile it must be an *http.Transport.
	Base http.RoundTripper

	Timeout        time.Duration // whole request, reading the body included (DefaultTimeout)
	HeaderTimeout  time.Duration // to the answer's headers (DefaultHeaderTimeout); not on Base
	ConnectTimeout time.Duration // TCP connect (DefaultConnectTimeout); not on Base
	TLSTimeout     time.Duration // TLS handshake (DefaultTLSTimeout); not on Base
	MaxBody        int64         // cap on a 2xx body (DefaultMaxBody)
	MaxErrorBody   int64         // cap on any other body (DefaultMaxErrorBody)
	// MaxIdleConnsPerHost keeps that many connections for reuse, for
	// backends sending requests concurrently (not on Base).
	MaxIdleConnsPerHost int
	// NoRedirects makes NewClient answer a 3xx as it is instead of
	// following it within the origin.
	NoRedirects bool
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.TLSTimeout <= 0 {
		o.TLSTimeout = DefaultTLSTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxErrorBody <= 0 {
		o.MaxErrorBody = DefaultMaxErrorBody
	}
}

// NewClient is an *http.Client on NewTransport(o) that follows redirects
// only within the origin (or none, with o.NoRedirects). It has no
// Client.Timeout: the transport bounds each request, and a client-wide
// timeout would also cut short the retry waits of middleware above it.
func NewClient(o Options) (*http.Client, error) {
	rt, err := NewTransport(o)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: rt, CheckRedirect: CheckRedirect}
	if o.NoRedirects {
		c.CheckRedirect = noRedirects
	}
	return c, nil
}

// NewTransport builds the round tripper a backend sends every request
// through (put retry handlers and pacers above it, so each attempt gets its
// own deadline).
func NewTransport(o Options) (http.RoundTripper, error) {
	o.defaults()
	if len(o.Origins) == 0 {
		return nil, errors.New("httppolicy: no origin configured")
	}
	t := &transport{opts: o, origins: map[string]bool{}}
	for _, raw := range o.Origins {
		og := OriginOf(raw)
		if og == "" {
			return nil, fmt.Errorf("httppolicy: %q is not an absolute URL", redactURL(raw))
		}
		if !t.origins[og] {
			t.origins[og] = true
			t.allowed = append(t.allowed, og)
		}
	}
	base, err := o.base()
	if err != nil {
		return nil, err
	}
	t.next = base
	return t, nil
}

// base is the transport under the policy: a tuned clone of the default one,
// or o.Base, with CAFile's roots added.
func (o *Options) base() (http.RoundTripper, error) {
	if o.Base != nil && o.CAFile == "" {
		return o.Base, nil
	}
	var tr *http.Transport
	if o.Base != nil {
		bt, ok := o.Base.(*http.Transport)
		if !ok {
			return nil, errors.New("ca_file: cannot be added to a custom HTTP transport")
		}
		tr = bt.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = o.TLSTimeout
		tr.ResponseHeaderTimeout = o.HeaderTimeout
		if o.MaxIdleConnsPerHost > 0 {
			tr.MaxIdleConnsPerHost = o.MaxIdleConnsPerHost
		}
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	}
	if o.CAFile != "" {
		pemBytes, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("ca_file: no PEM certificate in %s", o.CAFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return tr, nil
}

// transport enforces the policy around next.
type transport struct {
	opts    Options
	origins map[string]bool
	allowed []string
	next    http.RoundTripper
}

var _ http.RoundTripper = (*transport)(nil)

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if og := Origin(req.URL); !t.origins[og] {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, &OriginError{To: og, Allowed: t.allowed}
	}
	parent := req.Context()
	ctx, cancel := context.WithTimeout(parent, t.opts.Timeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		observe(t.opts.Name, Origin(req.URL), nil, time.Now())
		if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = &TimeoutError{Limit: t.opts.Timeout, Err: err}
		}
		return nil, err
	}
	fixRetryAfter(t.opts.Name, Origin(req.URL), resp.Header, time.Now())
	observe(t.opts.Name, Origin(req.URL), resp, time.Now())
	limit, kind := t.opts.MaxBody, "answer"
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		limit, kind = t.opts.MaxErrorBody, "error answer"
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		cancel()
		return nil, &BodyTooLargeError{Limit: limit, Kind: kind, Status: resp.StatusCode, Origin: Origin(req.URL)}
	}
	resp.Body = &body{
		rc: resp.Body, left: limit, limit: limit, kind: kind, status: resp.StatusCode, origin: Origin(req.URL),
		ctx: ctx, parent: parent, cancel: cancel, timeout: t.opts.Timeout,
	}
	return resp, nil
}

// body caps what is read of an answer and ends its deadline once the body
// is read or closed.
type body struct {
	rc       io.ReadCloser
	left     int64 // bytes still allowed
	limit    int64
	kind     string
	status   int
	origin   string
	ctx      context.Context
	parent   context.Context
	cancel   context.CancelFunc
	timeout  time.Duration
	done     stdsync.Once
	overflow bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.overflow {
		return 0, b.tooLarge()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the cap tells an exact fit from too much
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		b.overflow = true
		b.finish()
		return int(b.left), b.tooLarge()
	}
	b.left -= int64(n)
	if err != nil && b.ctx.Err() != nil {
		// The deadline (ours or the caller's) cut the body. Go's transport
		// may report that as a plain io.EOF; a cut body must never pass for
		// a complete one.
		switch {
		case b.parent.Err() == nil:
			err = &TimeoutError{Limit: b.timeout, Err: err, Body: true}
		case err == io.EOF:
			err = fmt.Errorf("answer cut short: %w", b.parent.Err())
		}
	}
	if err != nil {
		b.finish()
	}
	return n, err
}

func (b *body) tooLarge() error {
	return &BodyTooLargeError{Limit: b.limit, Kind: b.kind, Status: b.status, Origin: b.origin}
}

func (b *body) Close() error {
	err := b.rc.Close()
	b.finish()
	return err
}

func (b *body) finish() { b.done.Do(b.cancel) }

// BodyTooLargeError is an answer whose body exceeds its cap: it is not read
// further (an answer that large is a broken or hostile server, and reading
// it would only exhaust memory).
type BodyTooLargeError struct {
	Limit  int64
	Kind   string // "answer" (2xx) or "error answer"
	Status int
	Origin string
}

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("%s %s (HTTP %d) is larger than the %s cap: not read", e.Origin, e.Kind, e.Status, Size(e.Limit))
}

// TimeoutError is a request that did not complete, body included, within
// its whole-request timeout. It wraps context.DeadlineExceeded.
type TimeoutError struct {
	Limit time.Duration
	Err   error
	Body  bool // the headers came, the body did not finish
}

func (e *TimeoutError) Error() string {
	if e.Body {
		return fmt.Sprintf("answer not complete within %s (whole-request timeout; the server stopped or trickles its body)", e.Limit)
	}
	return fmt.Sprintf("no answer within %s (whole-request timeout)", e.Limit)
}

func (e *TimeoutError) Unwrap() []error { return []error{context.DeadlineExceeded, e.Err} }

// Timeout lets net.Error-style checks see a timeout.
func (e *TimeoutError) Timeout() bool { return true }

// Size prints a byte count the way caps are configured ("64 MiB").
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
