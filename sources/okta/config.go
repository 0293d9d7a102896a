// Package okta reads an Okta org through the management API
// (okta-sdk-golang/v2): users, groups with their members, the assignments of
// one app with a role from the app user profile, and hard deletes from the
// System Log. Incremental pulls use a lastUpdated watermark with an overlap
// (user search is eventually consistent) and the System Log's polling next
// link; requests are paced by Okta's X-Rate-Limit-* headers.
package okta

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/sources"
)

// Config is the source block of a connection with type okta:
//
//	source:
//	  type: okta
//	  org_url: https://globex.okta.com
//	  token: ${GLOBEX_OKTA_TOKEN}     # SSWS API token (or token_file), or:
//	  # oauth:                        # OAuth 2.0 service app, private_key_jwt
//	  #   client_id: 0oa1b2c3d4e5f6g7h8i9
//	  #   private_key_file: /etc/idsync/okta-key.pem   # RSA or EC, PKCS#1/PKCS#8/SEC1 PEM
//	  #   key_id: ""                   # kid of the key registered with the app, if several
//	  #   scopes: [okta.users.read, okta.groups.read, okta.apps.read, okta.logs.read]
//	  ca_file: ""                     # extra PEM roots (TLS-inspecting proxies)
//	  scope:
//	    groups: []                    # Okta group names/ids
//	    app_id: ""                    # users assigned to this app (directly or via a group)
//	  role_attribute: role            # app user profile attribute carrying the role
//	  rate_headroom: 20               # percent of each rate-limit bucket left to other clients
//	  lag: 2m                         # overlap of the lastUpdated watermark
//	  timeout: 60s                    # per request attempt, answer included
type Config struct {
	OrgURL        string        `yaml:"org_url"`
	Token         string        `yaml:"token"`
	OAuth         *OAuth        `yaml:"oauth"`
	CAFile        string        `yaml:"ca_file"`
	Scope         sources.Scope `yaml:"scope"`
	RoleAttribute string        `yaml:"role_attribute"`
	// RateHeadroom is the percent (1-90) of every rate-limit bucket idsync
	// leaves unused for the org's other API clients; 0 means the default 20.
	RateHeadroom int `yaml:"rate_headroom"`
	// Lag is how far back each incremental read reaches before the last
	// one: Okta's user search is eventually consistent, and re-reading a
	// user is harmless while missing one is not. Default 2m.
	Lag time.Duration `yaml:"lag"`
	// Timeout bounds each request attempt, reading the whole answer
	// included (default 60s; waits for a rate-limit window do not count):
	// a server that stops or trickles its answer fails the pull instead
	// of holding it.
	Timeout time.Duration `yaml:"timeout"`

	// MemberGroups, when not nil, limits member reads to these groups
	// (names or ids) and scope.groups: cmd can pass the groups its role
	// rules and group sync name, so an org with thousands of groups does
	// not spend a call per group on every full read. nil reads every
	// group's members (BUILT_IN Everyone only when named).
	MemberGroups []string `yaml:"-"`

	// HTTPClient supplies the transport under idsync's HTTP policy and the
	// rate-limit pacer; its Timeout bounds each attempt unless timeout is
	// set. CAFile is ignored when it is set.
	HTTPClient *http.Client `yaml:"-"`
	// Now and Sleep replace the clock the pacer and cursor ages use
	// (tests pass the emulator's clock).
	Now   func() time.Time                                 `yaml:"-"`
	Sleep func(ctx context.Context, d time.Duration) error `yaml:"-"`
}

// OAuth configures an OAuth 2.0 service app (client credentials with a
// private_key_jwt assertion) instead of an SSWS token.
type OAuth struct {
	ClientID string `yaml:"client_id"`
	// PrivateKeyFile is the PEM private key (RSA or EC; PKCS#1, PKCS#8 or
	// SEC 1) whose public key is registered with the service app.
	PrivateKeyFile string   `yaml:"private_key_file"`
	KeyID          string   `yaml:"key_id"`
	Scopes         []string `yaml:"scopes"`
	// PrivateKey is the PEM text itself, for callers that hold the key in
	// memory; it takes precedence over PrivateKeyFile. Not read from YAML,
	// where an inline key would not be treated as a secret.
	PrivateKey string `yaml:"-"`
}

// DefaultScopes are the read scopes a pull needs.
var DefaultScopes = []string{"okta.users.read", "okta.groups.read", "okta.apps.read", "okta.logs.read"}

const (
	defaultHeadroom = 20
	defaultLag      = 2 * time.Minute
	defaultRoleAttr = "role"
	defaultTimeout  = 60 * time.Second
)

// String describes the config without secrets.
func (c Config) String() string {
	auth := "token"
	if c.OAuth != nil {
		auth = "oauth client " + c.OAuth.ClientID
	}
	return fmt.Sprintf("okta %s (%s)", c.OrgURL, auth)
}

// validate fills defaults and checks c, naming the field at fault.
func (c *Config) validate() (signer jose.Signer, err error) {
	u, err := url.Parse(c.OrgURL)
	switch {
	case c.OrgURL == "":
		return nil, errors.New("org_url: required (https://<your-org>.okta.com)")
	case err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		shown := c.OrgURL
		if err == nil {
			shown = u.Redacted() // never a password written in the URL
		}
		return nil, fmt.Errorf("org_url: must be https://<your-org>.okta.com without a path, not %q", shown)
	case strings.Contains(u.Host, "-admin."):
		return nil, fmt.Errorf("org_url: use the org domain, not the admin domain (%s)", u.Host)
	}
	c.OrgURL = "https://" + u.Host
	switch {
	case c.Token != "" && c.OAuth != nil:
		return nil, errors.New("token: set either token or oauth, not both")
	case c.Token == "" && c.OAuth == nil:
		return nil, errors.New("token: required (an SSWS API token), or configure oauth")
	case c.Token != "" && strings.ContainsAny(c.Token, " \r\n\t"):
		return nil, errors.New("token: contains whitespace (paste the token alone, without \"SSWS \")")
	}
	if c.OAuth != nil {
		if c.OAuth.ClientID == "" {
			return nil, errors.New("oauth.client_id: required")
		}
		pemText := c.OAuth.PrivateKey
		field := "oauth.private_key"
		if pemText == "" {
			if c.OAuth.PrivateKeyFile == "" {
				return nil, errors.New("oauth.private_key_file: required")
			}
			field = "oauth.private_key_file"
			b, err := os.ReadFile(c.OAuth.PrivateKeyFile)
			if err != nil {
				return nil, fmt.Errorf("oauth.private_key_file: %w", err)
			}
			pemText = string(b)
		}
		key, err := parsePrivateKey([]byte(pemText))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		alg := jose.RS256
		if _, ok := key.(*ecdsa.PrivateKey); ok {
			alg = jose.ES256
		}
		opts := &jose.SignerOptions{}
		if c.OAuth.KeyID != "" {
			opts = opts.WithHeader("kid", c.OAuth.KeyID)
		}
		signer, err = jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		if len(c.OAuth.Scopes) == 0 {
			c.OAuth.Scopes = DefaultScopes
		}
	}
	if c.RoleAttribute == "" {
		c.RoleAttribute = defaultRoleAttr
	}
	switch {
	case c.RateHeadroom == 0:
		c.RateHeadroom = defaultHeadroom
	case c.RateHeadroom < 0 || c.RateHeadroom > 90:
		return nil, fmt.Errorf("rate_headroom: must be a percent between 1 and 90, not %d", c.RateHeadroom)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("timeout: must be positive (default %s)", defaultTimeout)
	}
	switch {
	case c.Lag == 0:
		c.Lag = defaultLag
	case c.Lag < 0 || c.Lag > 24*time.Hour:
		return nil, fmt.Errorf("lag: must be between 1s and 24h, not %s", c.Lag)
	}
	for i, g := range c.Scope.Groups {
		if strings.TrimSpace(g) == "" {
			return nil, fmt.Errorf("scope.groups[%d]: empty group name", i)
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	return signer, nil
}

func parsePrivateKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM private key found")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("unsupported key type %T (want RSA or EC)", k)
	}
	return nil, fmt.Errorf("unsupported PEM block %q (want a private key)", block.Type)
}

// transport builds the base transport under idsync's HTTP policy
// (internal/httppolicy): requests only to org_url's origin, redirects only
// within it, each attempt (answer included) bounded by timeout, pages capped
// at maxPage; over the caller's transport, or the default one trusting
// ca_file in addition to the system roots.
func (c *Config) transport(timeout time.Duration) (http.RoundTripper, error) {
	o := httppolicy.Options{Name: "okta", Origins: []string{c.OrgURL}, CAFile: c.CAFile, Timeout: timeout, MaxBody: maxPage}
	if c.HTTPClient != nil {
		o.CAFile = ""
		o.Base = c.HTTPClient.Transport
		if o.Base == nil {
			o.Base = http.DefaultTransport
		}
	}
	return httppolicy.NewTransport(o)
}

// maxPage caps one Okta answer: a 200-user page is well under 1 MiB.
const maxPage = 64 << 20

// attemptTimeout is how long one attempt may take, answer included: timeout,
// else HTTPClient's Timeout, else defaultTimeout.
func (c *Config) attemptTimeout() time.Duration {
	switch {
	case c.Timeout > 0:
		return c.Timeout
	case c.HTTPClient != nil && c.HTTPClient.Timeout > 0:
		return c.HTTPClient.Timeout
	}
	return defaultTimeout
}

// Source pulls one Okta org. Open it once; Pull is not safe to call
// concurrently (the engine never runs two pulls of a connection at once).
type Source struct {
	cfg    Config
	client *okta.Client
	pacer  *pacer
	links  *linkGuard
}

var _ sources.Source = (*Source)(nil)

// Open validates cfg, fills its defaults and builds the SDK client. It makes
// no request.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	signer, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("okta: %w", err)
	}
	timeout := cfg.attemptTimeout()
	base, err := cfg.transport(timeout)
	if err != nil {
		return nil, fmt.Errorf("okta: %w", err)
	}
	// The timeout applies to each attempt inside the pacer: a client-wide
	// timeout would also count the waits for a rate-limit window to reset.
	p := newPacer(base, cfg.RateHeadroom, timeout, cfg.Now, cfg.Sleep)
	p.origin = cfg.OrgURL
	guard, err := newLinkGuard(p, cfg.OrgURL)
	if err != nil {
		return nil, fmt.Errorf("okta: %w", err)
	}
	// The SSWS token (or the OAuth assertion) goes with every request:
	// redirects only within org_url's origin, never to http.
	hc := &http.Client{Transport: guard, CheckRedirect: httppolicy.CheckRedirect}
	opts := []okta.ConfigSetter{
		okta.WithOrgUrl(cfg.OrgURL),
		// The SDK's response cache (on by default, 300 s) would answer
		// incremental polls with stale pages.
		okta.WithCache(false),
		okta.WithHttpClientPtr(hc),
		// The pacer waits for X-Rate-Limit-Reset itself; with the SDK's own
		// 429 retries on top, one throttled call could wait twice.
		okta.WithRateLimitMaxRetries(0),
		okta.WithUserAgentExtra("idsync"),
	}
	if cfg.OAuth != nil {
		opts = append(opts,
			okta.WithAuthorizationMode("PrivateKey"),
			okta.WithClientId(cfg.OAuth.ClientID),
			okta.WithScopes(cfg.OAuth.Scopes),
			okta.WithPrivateKeySigner(signer),
		)
	} else {
		opts = append(opts, okta.WithAuthorizationMode("SSWS"), okta.WithToken(cfg.Token))
	}
	_, client, err := okta.NewClient(ctx, opts...)
	if err != nil {
		// The SDK's messages name the org URL at most, never the token.
		return nil, fmt.Errorf("okta: client: %w", err)
	}
	return &Source{cfg: cfg, client: client, pacer: p, links: guard}, nil
}

// Stats reports how many HTTP requests the source has sent and how long
// it has waited for rate limits, since Open.
func (s *Source) Stats() (requests int, waited time.Duration) { return s.pacer.stats() }
