package scim

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
)

// Config is the source block of a push connection (`type: scim`): the IdP
// pushes to the daemon's listener at http.listen under
// /scim/v2/<connection>/, with a bearer token from `idsync token create`.
//
//	source:
//	  type: scim
//	  rate_limit: 50          # requests/s per token (burst twice that); 0 = unlimited
//	  max_concurrent: 64      # requests served at once; more wait up to queue_wait, then 503 + Retry-After
//	  queue_wait: 1s
//	  max_body: 1048576       # request body bytes (1 MiB)
//	  debounce: 2s            # pushes within this of a run's start fold into one follow-up run
//	  base_url: ""            # where the IdP reaches this connection, for meta.location (default: from each request)
//	  scope: {groups: []}     # as for pull sources: pushed groups (names or ids); empty = every pushed user
type Config struct {
	RateLimit     float64       `yaml:"rate_limit"`
	MaxConcurrent int           `yaml:"max_concurrent"`
	QueueWait     time.Duration `yaml:"queue_wait"`
	MaxBody       int64         `yaml:"max_body"`
	Debounce      time.Duration `yaml:"debounce"`
	BaseURL       string        `yaml:"base_url"`
	Scope         sources.Scope `yaml:"scope"`
}

// Push connection defaults. Entra's provisioning service sends a few
// requests a second per app (its gallery asks SCIM endpoints to take 25/s);
// Okta's about as many. The body limit is the handler's DefaultMaxBody.
const (
	DefaultRateLimit     = 50
	DefaultMaxConcurrent = 64
	DefaultQueueWait     = time.Second
)

// DefaultConfig is a push source's block with nothing set.
func DefaultConfig() Config {
	return Config{RateLimit: DefaultRateLimit, MaxConcurrent: DefaultMaxConcurrent, QueueWait: DefaultQueueWait, MaxBody: DefaultMaxBody}
}

// Validate checks cfg (as decoded over DefaultConfig).
func (c Config) Validate() error {
	var errs []error
	if c.RateLimit < 0 {
		errs = append(errs, errors.New("rate_limit: must be 0 (unlimited) or more requests per second"))
	}
	if c.MaxConcurrent < 1 {
		errs = append(errs, errors.New("max_concurrent: must be at least 1"))
	}
	if c.QueueWait < 0 {
		errs = append(errs, errors.New("queue_wait: must not be negative"))
	}
	if c.MaxBody < 1024 {
		errs = append(errs, errors.New("max_body: must be at least 1024 bytes (Entra's and Okta's requests are a few KiB; groups with many members more)"))
	}
	if c.Debounce < 0 {
		errs = append(errs, errors.New("debounce: must not be negative"))
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("base_url: must be an absolute http(s) URL, such as https://idsync.example.com/scim/v2/initech"))
		}
	}
	if c.Scope.AppID != "" {
		errs = append(errs, errors.New("scope.app_id: a push connection has no app to read assignments of; the IdP pushes only the users assigned to its app (scope them there, or with scope.groups)"))
	}
	return errors.Join(errs...)
}

// Source is a push connection's source: the listener writes what the IdP
// pushes straight into the snapshot (StateRepo), so a run has nothing to
// read. Pull reports no changes, no cursor and never a full read — nothing
// is ever swept for not being mentioned; the engine plans from the
// snapshot and the users marked dirty, and `sync --full` re-evaluates
// everyone from the snapshot.
type Source struct {
	Config Config
}

var _ sources.Source = (*Source)(nil)

// Open validates cfg and returns the push source.
func Open(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Source{Config: cfg}, nil
}

// Pull has nothing to read: pushes are in the snapshot already.
func (s *Source) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	return "", false, ctx.Err()
}
