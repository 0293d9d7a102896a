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
	"time"
	"unicode/utf8"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/httppolicy"
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
	var hc *http.Client
	if len(errs) == 0 {
		if hc, err = httpClient(cfg); err != nil {
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

// maxAnswer caps a receiver's answer: at most a {"targetId": ...}.
const maxAnswer = 1 << 20

// httpClient is the client under idsync's HTTP policy (internal/httppolicy):
// requests only to url's origin, the timeout bounding each whole answer,
// answers capped. No redirect is followed, not even within the origin: it
// would resend a signed body somewhere the operator did not configure, so
// it is reported instead. HTTPClient, when set, supplies the transport
// under the policy (and CAFile is not used).
func httpClient(cfg Config) (*http.Client, error) {
	o := httppolicy.Options{Name: "webhook", Origins: []string{cfg.URL}, CAFile: cfg.CAFile,
		Timeout: cfg.Timeout, MaxBody: maxAnswer, NoRedirects: true}
	if cfg.HTTPClient != nil {
		o.CAFile = ""
		o.Base = cfg.HTTPClient.Transport
		if o.Base == nil {
			o.Base = http.DefaultTransport
		}
	}
	return httppolicy.NewClient(o)
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
		return fail(t.transportError(ctx, err))
	}
	defer resp.Body.Close()
	// The transport caps the answer and bounds reading it by the timeout.
	// One that does not arrive whole is not a delivery idsync can record
	// (it may hold the receiver's targetId): the event is sent again, and
	// receivers drop repeats by its id.
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fail(t.transportError(ctx, err))
	}
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
		// Recorded, printed by explain and sent back in every later op:
		// checked as the SCIM target checks a resource id.
		if err := targets.CheckWorkspaceID(answer.TargetID); err != nil {
			return fail(fmt.Errorf("receiver's targetId: %w", err))
		}
		applied.TargetID = answer.TargetID
	}
	if applied.TargetID == "" {
		applied.TargetID = op.ObjectID
	}
	return applied, nil
}

// transportError classifies a failed request or answer: the caller's ctx
// ending, the policy's refusals (permanent), timeouts and dropped
// connections (retryable). URLs lose their query and userinfo (a webhook
// URL often carries a token in its query).
func (t *Target) transportError(ctx context.Context, err error) error {
	err = httppolicy.Clean(err)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case httppolicy.IsPermanent(err):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return &targets.RetryableError{Err: fmt.Errorf("no complete answer within %s (timeout)", t.timeout)}
	}
	return &targets.RetryableError{Err: err}
}

// statusError names the status and the start of what the receiver said,
// stripped of control characters and escapes.
func statusError(status int, body []byte) error {
	msg := fmt.Sprintf("receiver answered %d %s", status, http.StatusText(status))
	if b := httppolicy.Text(string(body)); b != "" {
		msg += ": " + clipText(b, 200)
	}
	return errors.New(msg)
}

// clipText cuts s to about n bytes on a rune boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
