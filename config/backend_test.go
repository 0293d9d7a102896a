package config

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleTarget stands in for a backend's Config struct.
type sampleTarget struct {
	URL         string        `yaml:"url"`
	Token       string        `yaml:"token"`
	RateLimit   float64       `yaml:"rate_limit"`
	Concurrency int           `yaml:"concurrency"`
	Timeout     time.Duration `yaml:"timeout"`
	Insecure    *bool         `yaml:"insecure"`
	OAuth       *sampleOAuth  `yaml:"oauth"`
	Headers     map[string]string
	Mappings    []sampleMapping `yaml:"mappings"`
	Common      `yaml:",inline"`

	HTTPClient *http.Client `yaml:"-"`
}

type sampleOAuth struct {
	ClientID       string   `yaml:"client_id"`
	PrivateKeyFile string   `yaml:"private_key_file"`
	Scopes         []string `yaml:"scopes"`
}

type sampleMapping struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

type Common struct {
	CAFile string `yaml:"ca_file"`
}

func targetOf(t *testing.T, block string, env map[string]string) Backend {
	t.Helper()
	cfg, err := Parse("idsync.yaml", []byte("connections:\n  - name: a\n    source: {type: okta}\n    target:\n"+block), mapEnv(env))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg.Connections[0].Target
}

func TestBackendDecode(t *testing.T) {
	b := targetOf(t, `      type: scim
      url: https://x.example/scim/v2
      token: ${TOKEN}
      rate_limit: 12.5
      concurrency: "${CONC}"
      timeout: 1m30s
      insecure: false
      oauth:
        client_id: cid
        private_key_file: /etc/k.pem
        scopes: [okta.users.read, okta.groups.read]
      headers: {X-Tenant: t1}
      mappings:
        - {from: mail, to: "emails[primary]"}
        - {from: upn, to: userName}
      ca_file: /etc/ca.pem
`, map[string]string{"TOKEN": "tok", "CONC": "8"})
	if b.Type != "scim" || b.Path != "connections[0].target" || b.Line() != 5 {
		t.Errorf("backend = %v line %d", b, b.Line())
	}
	got := sampleTarget{Concurrency: 4, RateLimit: 25} // defaults survive only where not set
	if err := b.Decode(&got); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	f := false
	want := sampleTarget{
		URL: "https://x.example/scim/v2", Token: "tok", RateLimit: 12.5, Concurrency: 8,
		Timeout: 90 * time.Second, Insecure: &f,
		OAuth:    &sampleOAuth{ClientID: "cid", PrivateKeyFile: "/etc/k.pem", Scopes: []string{"okta.users.read", "okta.groups.read"}},
		Headers:  map[string]string{"X-Tenant": "t1"},
		Mappings: []sampleMapping{{"mail", "emails[primary]"}, {"upn", "userName"}},
		Common:   Common{CAFile: "/etc/ca.pem"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n %+v\nwant\n %+v", got, want)
	}

	t.Run("defaults kept for absent keys", func(t *testing.T) {
		b := targetOf(t, "      type: scim\n      url: https://x\n", nil)
		got := sampleTarget{Concurrency: 4}
		if err := b.Decode(&got); err != nil || got.Concurrency != 4 || got.URL != "https://x" {
			t.Errorf("got %+v, %v", got, err)
		}
	})
}

func TestBackendDecodeProblems(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block string
		want  []string
	}{
		{
			name:  "unknown key with suggestion",
			block: "      type: scim\n      rate_limt: 5\n",
			want:  []string{`idsync.yaml:6: connections[0].target.rate_limt: unknown key (did you mean "rate_limit"?)`},
		},
		{
			name:  "unknown nested key",
			block: "      type: scim\n      oauth:\n        client_id: x\n        scope: [a]\n",
			want:  []string{`idsync.yaml:8: connections[0].target.oauth.scope: unknown key (did you mean "scopes"?)`},
		},
		{
			name:  "unknown key in a list item",
			block: "      type: scim\n      mappings:\n        - {from: a, too: b}\n",
			want:  []string{`idsync.yaml:7: connections[0].target.mappings[0].too: unknown key (did you mean "to"?)`},
		},
		{
			name:  "skipped field is unknown",
			block: "      type: scim\n      httpclient: x\n",
			want:  []string{`idsync.yaml:6: connections[0].target.httpclient: unknown key (known: ca_file, concurrency, headers, insecure, mappings, oauth, rate_limit, timeout, token, url)`},
		},
		{
			name:  "type mismatches, all of them",
			block: "      type: scim\n      concurrency: many\n      timeout: 30\n      insecure: maybe\n      oauth: yes\n      mappings: {from: a}\n      headers: [a]\n",
			want: []string{
				`idsync.yaml:6: connections[0].target.concurrency: must be an integer, got "many"`,
				`idsync.yaml:7: connections[0].target.timeout: must be a duration such as "30s" or "1m30s", got "30"`,
				`idsync.yaml:8: connections[0].target.insecure: must be true or false, got "maybe"`,
				`idsync.yaml:9: connections[0].target.oauth: must be a mapping, got "yes"`,
				`idsync.yaml:10: connections[0].target.mappings: must be a list, got a mapping`,
				`idsync.yaml:11: connections[0].target.headers: must be a mapping, got a list`,
			},
		},
		{
			name:  "empty variable is not zero",
			block: "      type: scim\n      concurrency: ${EMPTY}\n",
			want:  []string{`idsync.yaml:6: connections[0].target.concurrency: must be an integer, got an empty value`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := targetOf(t, tc.block, map[string]string{"EMPTY": ""})
			var v sampleTarget
			err := b.Decode(&v)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want Problems", err)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}

	t.Run("not a pointer", func(t *testing.T) {
		b := targetOf(t, "      type: scim\n", nil)
		if err := b.Decode(sampleTarget{}); err == nil {
			t.Error("Decode of a non-pointer succeeded")
		}
		if err := (Backend{Path: "x"}).Decode(&sampleTarget{}); err == nil {
			t.Error("Decode of a zero Backend succeeded")
		}
	})
}

func TestAnchorsAndMerge(t *testing.T) {
	cfg, err := Parse("idsync.yaml", []byte(`
x-target: &whale
  type: scim
  url: https://whale.example/scim/v2
  token: "${TOKEN}"
connections:
  - name: a
    source: {type: okta}
    target: *whale
  - name: b
    source: {type: okta}
    target:
      <<: *whale
      url: https://other.example/scim/v2
`), mapEnv(map[string]string{"TOKEN": "t"}))
	// x-target is not a key of the envelope: anchors live inside keys it knows.
	if err == nil || !strings.Contains(err.Error(), "idsync.yaml:2: x-target: unknown key") {
		t.Fatalf("err = %v", err)
	}
	var a, b sampleTarget
	if err := cfg.Connections[0].Target.Decode(&a); err != nil || a.URL != "https://whale.example/scim/v2" || a.Token != "t" {
		t.Errorf("alias: %+v %v", a, err)
	}
	if err := cfg.Connections[1].Target.Decode(&b); err != nil || b.URL != "https://other.example/scim/v2" || b.Token != "t" {
		t.Errorf("merge: %+v %v", b, err)
	}
	if cfg.Connections[1].Target.Type != "scim" {
		t.Errorf("merged type = %q", cfg.Connections[1].Target.Type)
	}
}

func TestBackendWrapAndProblemf(t *testing.T) {
	b := targetOf(t, "      type: scim\n      url: http://x\n      oauth:\n        client_id: \"\"\n      token_file: "+writeTemp(t, "tok\n")+"\n", nil)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("url: must be https or http://127.0.0.1"), "idsync.yaml:6: connections[0].target.url: must be https or http://127.0.0.1"},
		{fmt.Errorf("scim: url: bad"), "idsync.yaml:6: connections[0].target.url: bad"},
		{errors.New("oauth.client_id: required"), "idsync.yaml:8: connections[0].target.oauth.client_id: required"},
		{errors.New("preset: required"), "idsync.yaml:5: connections[0].target.preset: required"},
		{errors.New("token: rejected by the workspace"), "idsync.yaml:9: connections[0].target.token: rejected by the workspace"},
		{errors.New("open /x/ca.pem: no such file or directory"), "idsync.yaml:5: connections[0].target: open /x/ca.pem: no such file or directory"},
	} {
		if got := b.Wrap(tc.err).Error(); got != tc.want {
			t.Errorf("Wrap(%q)\n got  %s\n want %s", tc.err, got, tc.want)
		}
	}
	if b.Wrap(nil) != nil {
		t.Error("Wrap(nil) != nil")
	}
	if got := b.Problemf("type", "unknown target type %q (known: scim, webhook)", b.Type).String(); got != `idsync.yaml:5: connections[0].target.type: unknown target type "scim" (known: scim, webhook)` {
		t.Errorf("Problemf = %s", got)
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	f := t.TempDir() + "/secret"
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBackendDecodeInlineMapAndTextUnmarshaler(t *testing.T) {
	b := targetOf(t, "      type: webhook\n      since: 2026-01-02T03:04:05Z\n      x-extra: 1\n      x-other: two\n", nil)
	var v struct {
		Since time.Time         `yaml:"since"`
		Rest  map[string]string `yaml:",inline"`
	}
	if err := b.Decode(&v); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !v.Since.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || !reflect.DeepEqual(v.Rest, map[string]string{"x-extra": "1", "x-other": "two"}) {
		t.Errorf("decoded %+v", v)
	}
	var bad struct {
		Since time.Time `yaml:"since"`
	}
	b = targetOf(t, "      type: webhook\n      since: yesterday\n", nil)
	if err := b.Decode(&bad); err == nil || !strings.HasPrefix(err.Error(), "idsync.yaml:6: connections[0].target.since: ") {
		t.Errorf("err = %v", err)
	}
}
