package scim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/idsync/idsync/internal/httppolicy"
)

// Config is the target block of a connection with `type: scim`:
//
//	target:
//	  type: scim
//	  url: https://whale.example.com/scim/v2   # as the vendor prints it: ?aadOptscim062020 is dropped, other query parameters go with every request
//	  token: ${WHALE_SCIM_TOKEN}      # or token_file; a pasted "Bearer " prefix is accepted
//	  preset: whale                   # generic | whale | whimsical | whistleblower | officernd
//	  role_attribute: roles           # or a schema URN path, e.g. urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department
//	  rate_limit: 25                  # requests/s (0 = unlimited)
//	  concurrency: 4                  # ops applied at once
//	  timeout: 30s                    # per request
//	  update_method: patch            # patch | put (GET then full PUT, for endpoints without PATCH)
//	  member_batch: 100               # group members per PATCH
//	  bulk: true                      # SCIM Bulk for creates when /ServiceProviderConfig offers it (false = never)
//	  ca_file: ""                     # extra PEM roots for url
type Config struct {
	URL           string `yaml:"url"`
	Token         string `yaml:"token"`
	Preset        string `yaml:"preset"`
	RoleAttribute string `yaml:"role_attribute"`
	// RateLimit is requests per second; nil means the default (25, Entra's
	// gallery figure for SCIM endpoints), 0 means unlimited.
	RateLimit    *float64      `yaml:"rate_limit"`
	Concurrency  int           `yaml:"concurrency"`
	CAFile       string        `yaml:"ca_file"`
	UpdateMethod string        `yaml:"update_method"`
	MemberBatch  int           `yaml:"member_batch"`
	Timeout      time.Duration `yaml:"timeout"`
	// Bulk is whether creates go in SCIM Bulk requests when the workspace
	// offers Bulk; nil means true.
	Bulk *bool `yaml:"bulk"`
	// HTTPClient supplies the transport under idsync's HTTP policy instead
	// of the one built from CAFile (tests, proxies).
	HTTPClient *http.Client `yaml:"-"`

	// query is URL's query without Entra's flag, sent with every request;
	// notes are what validate changed that the operator may want to know.
	query string
	notes []string
	// Sleep replaces the timer between tries of a read (tests); nil waits.
	Sleep func(ctx context.Context, d time.Duration) error `yaml:"-"`
}

// Defaults.
const (
	DefaultRateLimit     = 25
	DefaultConcurrency   = 4
	DefaultMemberBatch   = 100
	DefaultTimeout       = 30 * time.Second
	DefaultRoleAttribute = "roles"
)

// Rate returns a RateLimit value (0 = unlimited), for configs built in code.
func Rate(perSecond float64) *float64 { return &perSecond }

// String describes the target without its token.
func (c Config) String() string {
	return fmt.Sprintf("scim %s (preset %s)", c.URL, c.Preset)
}

var plainAttr = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// validate checks c and fills defaults. Every problem is its own
// "scim: <field>: <what>" error, joined, so `config check` can place each at
// its key.
func (c *Config) validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("url: required"))
	case err != nil || u.Host == "":
		errs = append(errs, fmt.Errorf("url: %q is not an absolute URL", c.URL))
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		errs = append(errs, errors.New("url: must be https (or http://127.0.0.1 for a local test server)"))
	}
	if err == nil && u.Host != "" {
		var dropped bool
		c.query, dropped = tenantQuery(u.RawQuery)
		if dropped {
			c.notes = append(c.notes, "target url: ignoring ?"+entraFlag+" (an instruction to Entra's provisioning service, not to the workspace)")
		}
		u.RawQuery, u.ForceQuery, u.Fragment = "", false, ""
		c.URL = u.String()
	}
	c.URL = strings.TrimRight(c.URL, "/")
	c.Token = bearerToken(c.Token)
	if c.Token == "" {
		errs = append(errs, errors.New("token: required (or token_file)"))
	}
	if c.Preset == "" {
		c.Preset = "generic"
	}
	p, ok := presets[c.Preset]
	if !ok {
		errs = append(errs, fmt.Errorf("preset: unknown %q (one of %s)", c.Preset, strings.Join(presetNames(), ", ")))
	}
	if ok && p.roles != nil && len(p.roles) == 0 && c.RoleAttribute != "" && c.RoleAttribute != DefaultRoleAttribute {
		errs = append(errs, fmt.Errorf("role_attribute: %s (preset %s) takes no roles over SCIM: %s", p.app, c.Preset, p.noRoles))
	}
	if c.RoleAttribute == "" {
		c.RoleAttribute = DefaultRoleAttribute
	}
	switch {
	case ok && p.rolesOnly && c.RoleAttribute != DefaultRoleAttribute:
		errs = append(errs, fmt.Errorf("role_attribute: preset %s takes roles only", c.Preset))
	case c.RoleAttribute == DefaultRoleAttribute, plainAttr.MatchString(c.RoleAttribute):
	case strings.HasPrefix(c.RoleAttribute, "urn:") && plainAttr.MatchString(c.RoleAttribute[strings.LastIndexByte(c.RoleAttribute, ':')+1:]):
	default:
		errs = append(errs, fmt.Errorf("role_attribute: %q is neither \"roles\", an attribute name nor a schema URN path (urn:...:User:attribute)", c.RoleAttribute))
	}
	if c.RateLimit == nil {
		c.RateLimit = Rate(DefaultRateLimit)
	} else if *c.RateLimit < 0 {
		errs = append(errs, errors.New("rate_limit: must be >= 0 (0 = unlimited)"))
	}
	switch {
	case c.Concurrency == 0:
		c.Concurrency = DefaultConcurrency
	case c.Concurrency < 0 || c.Concurrency > 256:
		errs = append(errs, errors.New("concurrency: must be between 1 and 256"))
	}
	switch c.UpdateMethod {
	case "":
		c.UpdateMethod = "patch"
	case "patch", "put":
	default:
		errs = append(errs, fmt.Errorf("update_method: %q is not patch or put", c.UpdateMethod))
	}
	switch {
	case c.MemberBatch == 0:
		c.MemberBatch = DefaultMemberBatch
	case c.MemberBatch < 0:
		errs = append(errs, errors.New("member_batch: must be >= 1"))
	}
	switch {
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	case c.Timeout < 0:
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	for i, e := range errs {
		errs[i] = fmt.Errorf("scim: %w", e)
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClient builds the client for c under idsync's HTTP policy
// (internal/httppolicy): requests only to url's origin, redirects only
// within it, timeout bounding each whole answer, answers capped at
// maxBody; CAFile's roots on top of the system ones, and enough idle
// connections that concurrency workers reuse them. HTTPClient, when set,
// supplies the transport under the policy (and CAFile is not used).
func (c *Config) httpClient() (*http.Client, error) {
	o := httppolicy.Options{
		Name: "scim", Origins: []string{c.URL}, CAFile: c.CAFile,
		Timeout: c.Timeout, MaxBody: maxBody, MaxIdleConnsPerHost: max(c.Concurrency*2, 8),
	}
	if c.HTTPClient != nil {
		o.CAFile = ""
		o.Base = c.HTTPClient.Transport
		if o.Base == nil {
			o.Base = http.DefaultTransport
		}
	}
	return httppolicy.NewClient(o)
}

// maxBody caps a SCIM answer (a list page of 100 users with their groups
// is well under 1 MiB; 32 MiB leaves room for groups with many members).
const maxBody = 32 << 20
