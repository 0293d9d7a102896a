package scim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idsync/idsync/targets"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
	"go.yaml.in/yaml/v3"
)

func TestConfigErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name string
		cfg  scim.Config
		want string
	}{
		{"missing url", scim.Config{Token: "tok-9f8e7d"}, "url: required"},
		{"plain http to a remote host", scim.Config{URL: "http://whale.example.com/scim/v2", Token: "tok-9f8e7d"}, "url: must be https"},
		{"missing token", scim.Config{URL: "https://whale.example.com/scim/v2"}, "token: required"},
		{"unknown preset", scim.Config{URL: "https://x.test", Token: "tok-9f8e7d", Preset: "walrus"}, `preset: unknown "walrus"`},
		{"whimsical with a custom role attribute", scim.Config{URL: "https://x.test", Token: "tok-9f8e7d", Preset: "whimsical", RoleAttribute: "userType"}, "role_attribute: preset whimsical takes roles only"},
		{"whale with a role attribute", scim.Config{URL: "https://x.test", Token: "tok-9f8e7d", Preset: "whale", RoleAttribute: "userType"}, "role_attribute: Whale (preset whale) takes no roles"},
		{"bad role attribute", scim.Config{URL: "https://x.test", Token: "tok-9f8e7d", RoleAttribute: "roles[primary eq true]"}, "role_attribute:"},
		{"negative rate", scim.Config{URL: "https://x.test", Token: "tok-9f8e7d", RateLimit: scim.Rate(-1)}, "rate_limit:"},
		{"bad update method", scim.Config{URL: "https://x.test", Token: "tok-9f8e7d", UpdateMethod: "post"}, "update_method:"},
		{"bad concurrency", scim.Config{URL: "https://x.test", Token: "tok-9f8e7d", Concurrency: -2}, "concurrency:"},
		{"missing ca file", scim.Config{URL: "https://x.test", Token: "tok-9f8e7d", CAFile: "/nonexistent/ca.pem"}, "ca_file:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scim.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "tok-9f8e7d") {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestConfigFromYAML(t *testing.T) {
	const doc = `
url: https://whale.example.com/scim/v2/
token: abc
preset: whale
rate_limit: 0
concurrency: 8
timeout: 5s
update_method: put
member_batch: 50
`
	var cfg scim.Config
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.RateLimit == nil || *cfg.RateLimit != 0 || cfg.Timeout.Seconds() != 5 {
		t.Fatalf("decoded %+v", cfg)
	}
	c, err := scim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Concurrency() != 8 {
		t.Errorf("Concurrency = %d", c.Concurrency())
	}
	if s := c.String(); strings.Contains(s, "abc") {
		t.Errorf("String() = %q shows the token", s)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	srv := newServer(t, scimtest.Options{TLS: true})
	t.Run("trusted through ca_file", func(t *testing.T) {
		c := newClient(t, srv, func(c *scim.Config) { c.CAFile = srv.CAFile })
		apply(t, c, createOp(account("u1", "tls@example.com")))
	})
	t.Run("untrusted certificate is permanent and points at ca_file", func(t *testing.T) {
		c := newClient(t, srv, nil)
		_, err := c.Apply(t.Context(), createOp(account("u2", "tls2@example.com")))
		if ok, _ := targets.Retryable(err); ok || err == nil || !strings.Contains(err.Error(), "ca_file") {
			t.Fatalf("err = %v, want a permanent error mentioning ca_file", err)
		}
	})
	t.Run("bad PEM", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "ca.pem")
		os.WriteFile(bad, []byte("not pem"), 0o600)
		_, err := scim.New(scim.Config{URL: srv.URL, Token: token, CAFile: bad})
		if err == nil || !strings.Contains(err.Error(), "ca_file: no PEM certificate") {
			t.Fatalf("err = %v", err)
		}
	})
}

// Each problem is its own error, so `config check` lists them all.
func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := scim.New(scim.Config{URL: "http://remote.example.com", Preset: "walrus", Timeout: -1})
	j, ok := err.(interface{ Unwrap() []error })
	if !ok || len(j.Unwrap()) != 4 {
		t.Fatalf("err = %v, want 4 joined problems (url, token, preset, timeout)", err)
	}
	for _, e := range j.Unwrap() {
		if !strings.HasPrefix(e.Error(), "scim: ") {
			t.Errorf("problem %q lacks the scim: prefix", e)
		}
	}
}
