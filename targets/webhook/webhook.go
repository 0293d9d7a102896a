// Package webhook is a workspace target that POSTs one signed JSON event per
// op to a URL, for workspaces that would rather receive changes than expose
// SCIM. See Config for the YAML block and Verify for receivers.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
)

// Config is the target block of a connection with `type: webhook`:
//
//	target:
//	  type: webhook
//	  url: https://api.example.com/hooks/idsync
//	  secret: ${HOOK_SECRET}     # or secret_file; HMAC-SHA256 signing key
//	  timeout: 10s               # per delivery (default 10s)
//	  ca_file: ""                # extra PEM roots for url
type Config struct {
	URL     string        `yaml:"url"`
	Secret  string        `yaml:"secret"`
	Timeout time.Duration `yaml:"timeout"`
	CAFile  string        `yaml:"ca_file"`
	// HTTPClient replaces the client built from CAFile (tests, proxies).
	HTTPClient *http.Client `yaml:"-"`
}

// DefaultTimeout bounds one delivery.
const DefaultTimeout = 10 * time.Second

// String describes the target without its secret.
func (c Config) String() string { return "webhook " + c.URL }

// Target delivers events. It is safe for concurrent use.
type Target struct {
	url     string
	secret  []byte
	timeout time.Duration
	http    *http.Client
	now     func() time.Time
}

var _ targets.Target = (*Target)(nil)

// New validates cfg, fills its defaults and returns a Target.
func New(cfg Config) (*Target, error) {
	var errs []error
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		errs = append(errs, errors.New("url: required"))
	case err != nil || u.Host == "":
		errs = append(errs, fmt.Errorf("url: %q is not an absolute URL", cfg.URL))
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		errs = append(errs, errors.New("url: must be https (or http://127.0.0.1 for a local receiver)"))
	}
	if cfg.Secret == "" {
		errs = append(errs, errors.New("secret: required (or secret_file)"))
	} else if len(cfg.Secret) < 16 {
		errs = append(errs, errors.New("secret: must be at least 16 characters"))
	}
	switch {
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	case cfg.Timeout < 0:
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	hc := cfg.HTTPClient
	if hc == nil && len(errs) == 0 {
		if hc, err = httpClient(cfg.CAFile); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// One "webhook: <field>: <what>" error per problem, joined.
		for i, e := range errs {
			errs[i] = fmt.Errorf("webhook: %w", e)
		}
		return nil, errors.Join(errs...)
	}
	return &Target{url: cfg.URL, secret: []byte(cfg.Secret), timeout: cfg.Timeout, http: hc, now: time.Now}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func httpClient(caFile string) (*http.Client, error) {
	tr, err := targets.Transport(caFile)
	if err != nil {
		return nil, err
	}
	// A redirect would resend a signed body somewhere the operator did not
	// configure: report it instead of following it.
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, nil
}

// String names the receiver without the secret.
func (t *Target) String() string { return "webhook " + t.url }

// Apply delivers the op's event once: 2xx is delivered; 429, 5xx, timeouts
// and dropped connections are *targets.RetryableError; 401/403 wrap
// targets.ErrUnauthorized; other statuses are permanent for this event.
//
// The receiver may answer {"targetId": "..."} to tell idsync its own id for
// the object; otherwise the IdP id stands in for it.
func (t *Target) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	typ, ok := eventTypes[op.Kind]
	if !ok {
		return idsync.Applied{}, fmt.Errorf("webhook: %s %q: unknown op kind", op.Kind, op.Name())
	}
	fail := func(err error) (idsync.Applied, error) {
		return idsync.Applied{}, fmt.Errorf("webhook: deliver %s %s for %q: %w", typ, eventID(op), op.Name(), err)
	}
	body, err := json.Marshal(newEvent(op, t.now()))
	if err != nil {
		return fail(err)
	}
	rctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "idsync")
	req.Header.Set(SignatureHeader, Sign(t.secret, t.now(), body))
	resp, err := t.http.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return fail(ctx.Err())
		case errors.Is(err, context.DeadlineExceeded):
			return fail(&targets.RetryableError{Err: fmt.Errorf("no answer within %s (timeout)", t.timeout)})
		}
		return fail(&targets.RetryableError{Err: err})
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return fail(fmt.Errorf("receiver answered %d: it rejected the signature; check that target.secret matches the receiver's: %w", s, targets.ErrUnauthorized))
	case s == http.StatusTooManyRequests || s >= 500:
		return fail(&targets.RetryableError{After: targets.RetryAfter(resp.Header.Get("Retry-After")), Err: statusError(s, data)})
	default:
		return fail(statusError(s, data))
	}
	if op.Kind == idsync.OpDelete || op.Kind == idsync.OpGroupDelete {
		return idsync.Applied{}, nil
	}
	applied := idsync.Applied{TargetID: op.TargetID, Account: op.Account, Group: op.Group}
	var answer struct {
		TargetID string `json:"targetId"`
	}
	if json.Unmarshal(data, &answer) == nil && answer.TargetID != "" {
		applied.TargetID = answer.TargetID
	}
	if applied.TargetID == "" {
		applied.TargetID = op.ObjectID
	}
	return applied, nil
}

func statusError(status int, body []byte) error {
	msg := fmt.Sprintf("receiver answered %d %s", status, http.StatusText(status))
	if b := strings.TrimSpace(string(body)); b != "" && len(b) < 200 {
		msg += ": " + b
	}
	return errors.New(msg)
}
