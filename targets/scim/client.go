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
	"strings"
	"time"

	"golang.org/x/time/rate"

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

// doHeader is do with extra request headers (If-Match), returning the
// response's headers (ETag) on success.
func (c *Client) doHeader(ctx context.Context, method, path string, hdr http.Header, in, out any) (http.Header, error) {
	var body io.Reader
	var raw []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		raw = b
	}
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
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return nil, fmt.Errorf("workspace answered %d with a body that is not SCIM JSON: %w", s, err)
			}
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
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verr *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &verr) {
		// Every request would fail the same way: not worth retrying.
		return fmt.Errorf("%w (is ca_file set to the workspace's CA?)", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
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
		e.ScimType, e.Detail = body.ScimType, body.Detail
	}
	if e.Detail == "" && len(data) > 0 && len(data) < 300 && !bytes.ContainsAny(data, "{<") {
		e.Detail = strings.TrimSpace(string(data))
	}
	return e
}
