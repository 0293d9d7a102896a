// Package scim is a SCIM 2.0 (RFC 7643/7644) workspace target: it creates,
// updates, re-roles, disables and deletes users, and pushes groups, on any
// endpoint that speaks SCIM, with presets for apps whose endpoints accept
// only part of the standard. See Config for the YAML block.
//
// Each Apply is one attempt: the engine retries RetryableErrors with
// targets.Backoff. Every request waits for the rate limiter.
package scim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/targets"
)

// Client is a SCIM workspace. It is safe for concurrent use.
type Client struct {
	base        string
	query       string // the tenant URL's query, on every request
	notes       []string
	token       string
	presetName  string
	preset      preset
	role        roleAttr
	limiter     *rate.Limiter
	concurrency int
	put         bool
	bulk        bool
	spc         spcCache
	batch       int
	timeout     time.Duration
	http        *http.Client
	sleep       func(ctx context.Context, d time.Duration) error
}

var (
	_ targets.Target  = (*Client)(nil)
	_ targets.Lister  = (*Client)(nil)
	_ targets.Limiter = (*Client)(nil)
	_ targets.Merger  = (*Client)(nil)
)

// New validates cfg, fills its defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hc, err := cfg.httpClient()
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	lim := rate.NewLimiter(rate.Inf, 1)
	if *cfg.RateLimit > 0 {
		// Burst 1: the workspace sees an even stream, never a spike above
		// the configured rate.
		lim = rate.NewLimiter(rate.Limit(*cfg.RateLimit), 1)
	}
	return &Client{
		base:        cfg.URL,
		query:       cfg.query,
		notes:       cfg.notes,
		token:       cfg.Token,
		presetName:  cfg.Preset,
		preset:      presets[cfg.Preset],
		role:        parseRoleAttr(cfg.RoleAttribute),
		limiter:     lim,
		concurrency: cfg.Concurrency,
		put:         cfg.UpdateMethod == "put",
		bulk:        cfg.Bulk == nil || *cfg.Bulk,
		batch:       cfg.MemberBatch,
		timeout:     cfg.Timeout,
		http:        hc,
		sleep:       cfg.Sleep,
	}, nil
}

// Concurrency is how many ops the engine should apply at once.
func (c *Client) Concurrency() int { return c.concurrency }

// String names the workspace without the token.
func (c *Client) String() string { return "scim " + c.base + " (preset " + c.presetName + ")" }

// apiError is a SCIM error response (RFC 7644 §3.12) that is neither
// retryable nor an authorisation failure.
type apiError struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("workspace answered %d %s", e.Status, http.StatusText(e.Status))
	if e.ScimType != "" {
		s += " (" + e.ScimType + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// do sends one request and decodes a 2xx answer into out. Failures are
// classified for the engine: *targets.RetryableError (429, 5xx, timeouts,
// dropped connections), targets.ErrUnauthorized (401, 403), *apiError
// (other statuses), or ctx's error when the caller gave up.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	_, err := c.doHeader(ctx, method, path, nil, in, out)
	return err
}

// readTries is how many times one read (a GET: a lookup, the read before a
// PUT, a list page) is sent when the workspace throttles or drops it.
//
// An op is several requests (a create: two lookups and the POST), and the
// engine's retry of a failed op starts it over from the first. Were reads
// not retried where they fail, an op would succeed only when all of its
// requests do in one go: under a workspace throttling 40% of requests a
// create had a 0.6³ ≈ 22% chance per attempt, and 30 attempts left 40
// creates a ~3% chance of one giving up (TestConcurrentOpsUnderFaults).
// Reads change nothing, so they are retried in place, waiting as the
// engine would (Retry-After, else jittered backoff); writes stay one
// attempt per Apply, retried by the engine, which records their outcome.
const readTries = 3

// doHeader is do with extra request headers (If-Match), returning the
// response's headers (ETag) on success. GETs are tried up to readTries
// times.
func (c *Client) doHeader(ctx context.Context, method, path string, hdr http.Header, in, out any) (http.Header, error) {
	var raw []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	if method != http.MethodGet {
		return c.send(ctx, method, path, hdr, raw, out)
	}
	var h http.Header
	err := targets.Backoff{Attempts: readTries, Sleep: c.sleep}.Retry(ctx, func() error {
		var err error
		h, err = c.send(ctx, method, path, hdr, raw, out)
		return err
	})
	return h, err
}

// send sends one request and reads its answer; see do.
func (c *Client) send(ctx context.Context, method, path string, hdr http.Header, raw []byte, out any) (http.Header, error) {
	var body io.Reader
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if raw != nil {
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(rctx, method, c.endpoint(path), body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/scim+json, application/json")
	req.Header.Set("User-Agent", "idsync")
	if raw != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	// The transport caps the body (maxBody, or 64 KiB for an error) and
	// bounds reading it by the timeout.
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		if err := decodeAnswer(method, data, out); err != nil {
			return nil, fmt.Errorf("workspace answered %d %s: %w", s, http.StatusText(s), err)
		}
		return resp.Header, nil
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return nil, fmt.Errorf("workspace answered %d: the bearer token was rejected (wrong, expired or lacking permission); check target.token: %w", s, targets.ErrUnauthorized)
	case s == http.StatusTooManyRequests || s >= 500:
		return nil, &targets.RetryableError{After: targets.RetryAfter(resp.Header.Get("Retry-After")), Err: parseError(s, data)}
	default:
		return nil, parseError(s, data)
	}
}

func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// URLs lose their query (filters name people) and userinfo.
	err = httppolicy.Clean(err)
	if httppolicy.IsPermanent(err) {
		// A refused redirect or an oversized answer: every retry would
		// meet the same.
		return err
	}
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verr *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &verr) {
		// Every request would fail the same way: not worth retrying.
		return fmt.Errorf("%w (is ca_file set to the workspace's CA?)", err)
	}
	var te *httppolicy.TimeoutError
	switch {
	case errors.As(err, &te) && te.Body:
		return &targets.RetryableError{Err: fmt.Errorf("answer not complete within %s (timeout)", c.timeout)}
	case errors.Is(err, context.DeadlineExceeded):
		return &targets.RetryableError{Err: fmt.Errorf("no answer within %s (timeout)", c.timeout)}
	}
	return &targets.RetryableError{Err: err}
}

func parseError(status int, data []byte) *apiError {
	e := &apiError{Status: status}
	var body struct {
		ScimType string `json:"scimType"`
		Detail   string `json:"detail"`
	}
	if json.Unmarshal(data, &body) == nil {
		// The workspace's words go into errors, the provisioning log and
		// terminals: no escapes, no control characters, bounded.
		e.ScimType, e.Detail = httppolicy.Text(body.ScimType), httppolicy.Text(body.Detail)
	}
	if e.Detail == "" && len(data) > 0 && len(data) < 300 && !bytes.ContainsAny(data, "{<") {
		e.Detail = httppolicy.Text(string(data))
	}
	return e
}
