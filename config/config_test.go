package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/idsync/idsync/sources"
)

// exampleEnv is the environment the embedded example needs.
var exampleEnv = map[string]string{
	"ACME_GRAPH_SECRET": "acme-graph-secret-value",
	"WHALE_SCIM_TOKEN":  "whale-token-value",
	"GLOBEX_OKTA_TOKEN": "globex-token-value",
	"HOOK_SECRET":       "hook-secret-value",
	"INITECH_TOKEN":     "initech-token-value",
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func mustParse(t *testing.T, yaml string, env map[string]string) *Config {
	t.Helper()
	cfg, err := Parse("idsync.yaml", []byte(yaml), mapEnv(env))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

// problems parses and returns the error's lines.
func problems(t *testing.T, yaml string, env map[string]string) []string {
	t.Helper()
	_, err := Parse("idsync.yaml", []byte(yaml), mapEnv(env))
	if err == nil {
		t.Fatalf("Parse succeeded, want problems")
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %T %v is not Problems", err, err)
	}
	return strings.Split(err.Error(), "\n")
}

func TestParseExample(t *testing.T) {
	cfg := mustParse(t, string(Example), exampleEnv)

	if cfg.State != "/var/lib/idsync/idsync.db" || cfg.HTTP.Listen != "127.0.0.1:8080" || cfg.HTTP.TLS != nil {
		t.Errorf("state/http = %q %+v", cfg.State, cfg.HTTP)
	}
	if cfg.Log != (Log{Level: "info", Format: "text"}) {
		t.Errorf("log = %+v", cfg.Log)
	}
	if len(cfg.Connections) != 3 {
		t.Fatalf("%d connections, want 3", len(cfg.Connections))
	}
	acme, globex, initech := cfg.Connections[0], cfg.Connections[1], cfg.Connections[2]

	t.Run("acme", func(t *testing.T) {
		if acme.Name != "acme" || acme.Schedule != "@every 5m" || acme.FullResync != "@weekly" {
			t.Errorf("name/schedules = %q %q %q", acme.Name, acme.Schedule, acme.FullResync)
		}
		if acme.Source.Type != "entra" || acme.Source.Path != "connections[0].source" {
			t.Errorf("source = %v", acme.Source)
		}
		if !reflect.DeepEqual(acme.Scope, sources.Scope{Groups: []string{"Whale Users"}}) {
			t.Errorf("scope = %+v", acme.Scope)
		}
		wantRoles := Roles{Default: "reader", Rules: []RoleRule{
			{Group: "Whale Admins", Role: "admin"},
			{AppRole: "Writer", Role: "writer"},
		}}
		if !reflect.DeepEqual(acme.Roles, wantRoles) {
			t.Errorf("roles = %+v", acme.Roles)
		}
		if acme.Deprovision != (Deprovision{Disabled: "disable", OutOfScope: "disable", SoftDeleted: "disable", Deleted: "delete"}) {
			t.Errorf("deprovision = %+v", acme.Deprovision)
		}
		if acme.Safety != (Safety{MaxDeletes: 25, MaxDeletePercent: 10}) {
			t.Errorf("safety = %+v", acme.Safety)
		}
		if acme.Groups.Sync || len(acme.Groups.Include) != 0 {
			t.Errorf("groups = %+v", acme.Groups)
		}
		if acme.Target.Type != "scim" {
			t.Errorf("target = %v", acme.Target)
		}

		var src struct {
			TenantID     string        `yaml:"tenant_id"`
			ClientID     string        `yaml:"client_id"`
			ClientSecret string        `yaml:"client_secret"`
			GraphURL     string        `yaml:"graph_url"`
			AuthorityURL string        `yaml:"authority_url"`
			CAFile       string        `yaml:"ca_file"`
			Scope        sources.Scope `yaml:"scope"`
		}
		if err := acme.Source.Decode(&src); err != nil {
			t.Fatalf("source decode: %v", err)
		}
		if src.ClientSecret != "acme-graph-secret-value" || src.TenantID != "11111111-2222-3333-4444-555555555555" ||
			src.GraphURL != "https://graph.microsoft.com/v1.0" || src.Scope.Groups[0] != "Whale Users" {
			t.Errorf("source block = %+v", src)
		}
		var tgt struct {
			URL           string  `yaml:"url"`
			Token         string  `yaml:"token"`
			Preset        string  `yaml:"preset"`
			RoleAttribute string  `yaml:"role_attribute"`
			RateLimit     float64 `yaml:"rate_limit"`
			Concurrency   int     `yaml:"concurrency"`
			CAFile        string  `yaml:"ca_file"`
		}
		if err := acme.Target.Decode(&tgt); err != nil {
			t.Fatalf("target decode: %v", err)
		}
		if tgt.Token != "whale-token-value" || tgt.RateLimit != 25 || tgt.Concurrency != 4 || tgt.Preset != "generic" {
			t.Errorf("target block = %+v", tgt)
		}
	})

	t.Run("globex defaults", func(t *testing.T) {
		if globex.Schedule != DefaultSchedule || globex.FullResync != DefaultFullResync {
			t.Errorf("schedules = %q %q", globex.Schedule, globex.FullResync)
		}
		if globex.Deprovision != (Deprovision{Disabled: "disable", OutOfScope: "disable", SoftDeleted: "disable", Deleted: "delete"}) {
			t.Errorf("deprovision = %+v", globex.Deprovision)
		}
		if globex.Safety != (Safety{MaxDeletes: 25, MaxDeletePercent: 10}) {
			t.Errorf("safety = %+v", globex.Safety)
		}
		if globex.Roles.Default != "" || len(globex.Roles.Rules) != 0 || !globex.Scope.All() {
			t.Errorf("roles/scope = %+v %+v", globex.Roles, globex.Scope)
		}
		if globex.Source.Type != "okta" || globex.Target.Type != "webhook" {
			t.Errorf("types = %q %q", globex.Source.Type, globex.Target.Type)
		}
		var hook struct {
			URL    string `yaml:"url"`
			Secret string `yaml:"secret"`
		}
		if err := globex.Target.Decode(&hook); err != nil || hook.Secret != "hook-secret-value" {
			t.Errorf("webhook decode = %+v, %v", hook, err)
		}
	})

	t.Run("initech push mode", func(t *testing.T) {
		if initech.Source.Type != "scim" || initech.Target.Type != "scim" || initech.Target.Path != "connections[2].target" {
			t.Errorf("initech = %v %v", initech.Source, initech.Target)
		}
		var empty struct{}
		if err := initech.Source.Decode(&empty); err != nil {
			t.Errorf("push source block should be empty besides type: %v", err)
		}
	})
}

func TestLoadExampleFromEnvironment(t *testing.T) {
	for k, v := range exampleEnv {
		t.Setenv(k, v)
	}
	path := filepath.Join(t.TempDir(), "idsync.yaml")
	if err := os.WriteFile(path, Example, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(cfg.Connections) != 3 {
		t.Fatalf("%d connections", len(cfg.Connections))
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

const minimal = `
connections:
  - name: a
    source: {type: okta}
    target: {type: scim}
`

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, minimal, nil)
	want := &Config{
		State: DefaultState,
		Log:   Log{Level: "info", Format: "text"},
	}
	if cfg.State != want.State || cfg.Log != want.Log || cfg.HTTP.Listen != "" {
		t.Errorf("config = %+v", cfg)
	}
	c := cfg.Connections[0]
	if c.Schedule != "@every 5m" || c.FullResync != "@weekly" ||
		c.Deprovision != (Deprovision{Disabled: "disable", OutOfScope: "disable", SoftDeleted: "disable", Deleted: "delete"}) ||
		c.Safety != (Safety{MaxDeletes: 25, MaxDeletePercent: 10}) || !c.Scope.All() {
		t.Errorf("connection = %+v", c)
	}
}

func TestExplicitValues(t *testing.T) {
	cfg := mustParse(t, `
log: {level: debug, format: json}
http:
  listen: ":8443"
  tls: {cert_file: tls/cert.pem, key_file: /etc/idsync/key.pem}
connections:
  - name: a-1
    schedule: "*/2 * * * *"
    full_resync: "0 3 * * 0"
    source:
      type: entra
      scope: {app_id: app-123}
    deprovision: {disabled: ignore, out_of_scope: delete, soft_deleted: delete, deleted: disable}
    safety: {max_deletes: 0, max_delete_percent: 0}
    groups: {sync: true, include: [Engineering, "42"]}
    target: {type: webhook}
`, nil)
	c := cfg.Connections[0]
	if c.Safety != (Safety{}) {
		t.Errorf("explicit zero safety not kept: %+v", c.Safety)
	}
	if c.Deprovision != (Deprovision{Disabled: "ignore", OutOfScope: "delete", SoftDeleted: "delete", Deleted: "disable"}) {
		t.Errorf("deprovision = %+v", c.Deprovision)
	}
	if c.Scope.AppID != "app-123" || !c.Groups.Sync || !reflect.DeepEqual(c.Groups.Include, []string{"Engineering", "42"}) {
		t.Errorf("scope/groups = %+v %+v", c.Scope, c.Groups)
	}
	if c.Schedule != "*/2 * * * *" || c.FullResync != "0 3 * * 0" {
		t.Errorf("schedules = %q %q", c.Schedule, c.FullResync)
	}
	if cfg.Log != (Log{Level: "debug", Format: "json"}) {
		t.Errorf("log = %+v", cfg.Log)
	}
	// Relative TLS paths are relative to the config file ("idsync.yaml" → ".").
	if cfg.HTTP.TLS == nil || cfg.HTTP.TLS.CertFile != "tls/cert.pem" || cfg.HTTP.TLS.KeyFile != "/etc/idsync/key.pem" {
		t.Errorf("tls = %+v", cfg.HTTP.TLS)
	}
}

func TestProblems(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		yaml string
		env  map[string]string
		want []string // each must be one of the reported lines
	}{
		{
			name: "unknown key in a connection, with suggestion",
			yaml: "connections:\n  - name: a\n    schedul: '@hourly'\n    source: {type: okta}\n    target: {type: scim}\n",
			want: []string{`idsync.yaml:3: connections[0].schedul: unknown key (did you mean "schedule"?)`},
		},
		{
			name: "unknown top-level key",
			yaml: "stat: x.db\n" + minimal,
			want: []string{`idsync.yaml:1: stat: unknown key (did you mean "state"?)`},
		},
		{
			name: "unknown nested key lists the known ones",
			yaml: "log: {colour: true}\n" + minimal,
			want: []string{`idsync.yaml:1: log.colour: unknown key (known: format, level)`},
		},
		{
			name: "unknown key in scope",
			yaml: "connections:\n  - name: a\n    source:\n      type: entra\n      scope: {group: [x]}\n    target: {type: scim}\n",
			want: []string{`idsync.yaml:5: connections[0].source.scope.group: unknown key (did you mean "groups"?)`},
		},
		{
			name: "bad enum",
			yaml: minimal + "  - name: b\n    source: {type: okta}\n    target: {type: scim}\n    deprovision:\n      deleted: remove\n",
			want: []string{`idsync.yaml:10: connections[1].deprovision.deleted: must be one of delete, disable (got "remove")`},
		},
		{
			name: "soft_deleted cannot be ignored",
			yaml: minimal + "    deprovision: {soft_deleted: ignore}\n",
			want: []string{`idsync.yaml:6: connections[0].deprovision.soft_deleted: must be one of disable, delete (got "ignore")`},
		},
		{
			name: "bad log level and format",
			yaml: "log: {level: verbose, format: xml}\n" + minimal,
			want: []string{
				`idsync.yaml:1: log.level: must be one of debug, info, warn, error (got "verbose")`,
				`idsync.yaml:1: log.format: must be one of text, json (got "xml")`,
			},
		},
		{
			name: "bad cron spec",
			yaml: "connections:\n  - name: a\n    schedule: every 5m\n    source: {type: okta}\n    target: {type: scim}\n",
			want: []string{`idsync.yaml:3: connections[0].schedule: bad cron spec "every 5m": expected exactly 5 fields, found 2: [every 5m]`},
		},
		{
			name: "bad full_resync descriptor",
			yaml: minimal + "    full_resync: '@fortnightly'\n",
			want: []string{`idsync.yaml:6: connections[0].full_resync: bad cron spec "@fortnightly": unrecognized descriptor: @fortnightly`},
		},
		{
			name: "duplicate connection name",
			yaml: minimal + "  - name: b\n    source: {type: okta}\n    target: {type: scim}\n  - name: a\n    source: {type: okta}\n    target: {type: scim}\n",
			want: []string{`idsync.yaml:9: connections[2].name: duplicate of connections[0].name "a"`},
		},
		{
			name: "bad connection name",
			yaml: "connections:\n  - name: Acme Corp\n    source: {type: okta}\n    target: {type: scim}\n",
			want: []string{`idsync.yaml:2: connections[0].name: "Acme Corp" must be lower-case letters, digits and dashes ([a-z0-9-]+)`},
		},
		{
			name: "missing name, source and target",
			yaml: "connections:\n  - schedule: '@hourly'\n",
			want: []string{
				`idsync.yaml:2: connections[0].name: required`,
				`idsync.yaml:2: connections[0].source: required`,
				`idsync.yaml:2: connections[0].target: required`,
			},
		},
		{
			name: "missing backend type",
			yaml: "connections:\n  - name: a\n    source:\n      org_url: https://x.okta.com\n    target: {type: ''}\n",
			want: []string{
				`idsync.yaml:4: connections[0].source.type: required`,
				`idsync.yaml:5: connections[0].target.type: required`,
			},
		},
		{
			name: "backend block not a mapping",
			yaml: "connections:\n  - name: a\n    source: okta\n    target: {type: scim}\n",
			want: []string{`idsync.yaml:3: connections[0].source: must be a mapping with a type, got "okta"`},
		},
		{
			name: "no connections",
			yaml: "state: x.db\n",
			want: []string{`idsync.yaml: connections: at least one connection is required`},
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{`idsync.yaml: connections: at least one connection is required`},
		},
		{
			name: "missing secret env var",
			yaml: "connections:\n  - name: a\n    source:\n      type: entra\n      client_secret: ${ACME_GRAPH_SECRET}\n    target: {type: scim}\n",
			want: []string{`idsync.yaml:5: connections[0].source.client_secret: environment variable ACME_GRAPH_SECRET is not set`},
		},
		{
			name: "bad env syntax",
			yaml: "state: ${1BAD}/x\nlog: {level: '${LEVEL'}\n" + minimal,
			want: []string{
				`idsync.yaml:1: state: bad environment variable name "1BAD" in ${...}`,
				`idsync.yaml:2: log.level: unterminated ${ (write $$ for a literal $)`,
			},
		},
		{
			name: "unreadable secret file",
			yaml: "connections:\n  - name: a\n    source: {type: okta}\n    target:\n      type: scim\n      token_file: " + filepath.Join(dir, "missing") + "\n",
			want: []string{`idsync.yaml:6: connections[0].target.token_file: open ` + filepath.Join(dir, "missing") + `: no such file or directory`},
		},
		{
			name: "secret file is a directory",
			yaml: "connections:\n  - name: a\n    source: {type: okta}\n    target:\n      type: scim\n      token_file: " + dir + "\n",
			want: []string{`idsync.yaml:6: connections[0].target.token_file: read ` + dir + `: is a directory`},
		},
		{
			name: "both key and key_file",
			yaml: "connections:\n  - name: a\n    source:\n      type: okta\n      oauth:\n        client_secret: x\n        client_secret_file: /run/credentials/x\n    target: {type: scim}\n",
			want: []string{`idsync.yaml:7: connections[0].source.oauth.client_secret_file: set either client_secret or client_secret_file, not both`},
		},
		{
			name: "type mismatch",
			yaml: minimal + "    safety:\n      max_deletes: many\n      max_delete_percent: [1]\n",
			want: []string{
				`idsync.yaml:7: connections[0].safety.max_deletes: must be an integer, got "many"`,
				`idsync.yaml:8: connections[0].safety.max_delete_percent: must be a number, got a list`,
			},
		},
		{
			name: "negative limits",
			yaml: minimal + "    safety: {max_deletes: -1, max_delete_percent: 150}\n",
			want: []string{
				`idsync.yaml:6: connections[0].safety.max_deletes: must be 0 (no limit) or more`,
				`idsync.yaml:6: connections[0].safety.max_delete_percent: must be between 0 (no limit) and 100`,
			},
		},
		{
			name: "role rules",
			yaml: minimal + "    roles:\n      rules:\n        - {group: g, app_role: r, role: admin}\n        - {group: g}\n        - {role: x}\n",
			want: []string{
				`idsync.yaml:8: connections[0].roles.rules[0]: set exactly one of group, app_role`,
				`idsync.yaml:9: connections[0].roles.rules[1].role: required`,
				`idsync.yaml:10: connections[0].roles.rules[2]: set exactly one of group, app_role`,
			},
		},
		{
			name: "list where a mapping belongs",
			yaml: "connections:\n  - name: a\n    source: {type: okta}\n    target: {type: scim}\n    groups: [x]\n",
			want: []string{`idsync.yaml:5: connections[0].groups: must be a mapping, got a list`},
		},
		{
			name: "bad listen address and incomplete tls",
			yaml: "http:\n  listen: localhost\n  tls: {cert_file: c.pem}\n" + minimal,
			want: []string{
				`idsync.yaml:2: http.listen: must be host:port such as 127.0.0.1:8080 (address localhost: missing port in address)`,
				`idsync.yaml:3: http.tls.key_file: required with http.tls`,
			},
		},
		{
			name: "invalid YAML",
			yaml: "state: [x\n",
			want: []string{`idsync.yaml:1: invalid YAML: did not find expected ',' or ']'`},
		},
		{
			// yaml.v3 places this parser error a line early (0-based context mark).
			name: "plain ${} inside a flow mapping",
			yaml: "connections:\n  - name: a\n    source: {type: okta, token: ${T}}\n",
			want: []string{`idsync.yaml:2: invalid YAML: did not find expected ',' or '}' (inside {...} or [...], quote values that use ${...}: token: "${NAME}")`},
		},
		{
			name: "duplicate key",
			yaml: "state: a\nstate: b\n" + minimal,
			want: []string{`idsync.yaml:2: state: key given twice (first at line 1)`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, tc.yaml, tc.env)
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("missing problem\n  want: %s\n  got:  %s", w, strings.Join(got, "\n        "))
				}
			}
		})
	}
}

func TestEveryProblemReportedSortedByLine(t *testing.T) {
	yaml := `log: {level: loud}
connections:
  - name: acme
    schedul: "@hourly"
    source:
      type: entra
      client_secret: ${NOPE}
    target: {type: scim, token_file: /nonexistent/token}
    deprovision: {deleted: remove}
    safety: {max_deletes: many}
  - name: acme
    schedule: every 5m
    source: {type: okta}
    target: {type: webhook}
`
	got := problems(t, yaml, nil)
	want := []string{
		`idsync.yaml:1: log.level: must be one of debug, info, warn, error (got "loud")`,
		`idsync.yaml:4: connections[0].schedul: unknown key (did you mean "schedule"?)`,
		`idsync.yaml:7: connections[0].source.client_secret: environment variable NOPE is not set`,
		`idsync.yaml:8: connections[0].target.token_file: open /nonexistent/token: no such file or directory`,
		`idsync.yaml:9: connections[0].deprovision.deleted: must be one of delete, disable (got "remove")`,
		`idsync.yaml:10: connections[0].safety.max_deletes: must be an integer, got "many"`,
		`idsync.yaml:11: connections[1].name: duplicate of connections[0].name "acme"`,
		`idsync.yaml:12: connections[1].schedule: bad cron spec "every 5m": expected exactly 5 fields, found 2: [every 5m]`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{"PORT": "8081", "MAX": "7", "EMPTY": "", "HOST": "10.0.0.1", "SCHED": "@hourly"}
	cfg := mustParse(t, `
state: "/var/lib/$${X}/${NOT_SET:-idsync}.db"
http: {listen: "${HOST}:${PORT}"}
log: {level: "${LEVEL:-warn}", format: "${EMPTY:-json}"}
connections:
  - name: a
    schedule: ${SCHED}
    source: {type: okta, password_hash: $2a$10$abc}
    safety: {max_deletes: "${MAX}"}
    target: {type: scim, url: "https://x/${EMPTY}"}
`, env)
	if cfg.State != "/var/lib/${X}/idsync.db" {
		t.Errorf("state = %q", cfg.State)
	}
	if cfg.HTTP.Listen != "10.0.0.1:8081" || cfg.Log.Level != "warn" || cfg.Log.Format != "json" {
		t.Errorf("http/log = %+v %+v", cfg.HTTP, cfg.Log)
	}
	c := cfg.Connections[0]
	if c.Schedule != "@hourly" || c.Safety.MaxDeletes != 7 {
		t.Errorf("schedule/max_deletes = %q %d", c.Schedule, c.Safety.MaxDeletes)
	}
	var src struct {
		PasswordHash string `yaml:"password_hash"`
	}
	if err := c.Source.Decode(&src); err != nil || src.PasswordHash != "$2a$10$abc" {
		t.Errorf("bare $ must stay literal: %q %v", src.PasswordHash, err)
	}
	var tgt struct {
		URL string `yaml:"url"`
	}
	if err := c.Target.Decode(&tgt); err != nil || tgt.URL != "https://x/" {
		t.Errorf("set-but-empty variable = %q %v", tgt.URL, err)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secrets/scim-token", "tok-from-file\n")
	write("secrets/oauth-secret", "line1\nline2\r\n")
	write("secrets/cert-pass", "pa$$word\n\n")
	write("idsync.yaml", `
connections:
  - name: a
    source:
      type: okta
      oauth:
        client_id: cid
        client_secret_file: secrets/oauth-secret
        private_key_file: keys/okta.pem
      certificate_password_file: ${CREDENTIALS_DIRECTORY}/cert-pass
      ca_file: /etc/ssl/extra.pem
    target:
      type: scim
      token_file: secrets/scim-token
      ca_file: ca.pem
`)
	t.Setenv("CREDENTIALS_DIRECTORY", filepath.Join(dir, "secrets"))
	cfg, err := Load(filepath.Join(dir, "idsync.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	c := cfg.Connections[0]
	var src struct {
		OAuth struct {
			ClientID       string `yaml:"client_id"`
			ClientSecret   string `yaml:"client_secret"`
			PrivateKeyFile string `yaml:"private_key_file"`
		} `yaml:"oauth"`
		CertificatePassword string `yaml:"certificate_password"`
		CAFile              string `yaml:"ca_file"`
	}
	if err := c.Source.Decode(&src); err != nil {
		t.Fatalf("source decode: %v", err)
	}
	if src.OAuth.ClientSecret != "line1\nline2" {
		t.Errorf("client_secret = %q (one trailing CRLF trimmed)", src.OAuth.ClientSecret)
	}
	if src.CertificatePassword != "pa$$word\n" {
		t.Errorf("certificate_password = %q (only one newline trimmed, no $ expansion in file contents)", src.CertificatePassword)
	}
	if want := filepath.Join(dir, "keys/okta.pem"); src.OAuth.PrivateKeyFile != want {
		t.Errorf("private_key_file = %q, want %q (relative to the config file)", src.OAuth.PrivateKeyFile, want)
	}
	if src.CAFile != "/etc/ssl/extra.pem" {
		t.Errorf("ca_file = %q", src.CAFile)
	}
	var tgt struct {
		Token  string `yaml:"token"`
		CAFile string `yaml:"ca_file"`
	}
	if err := c.Target.Decode(&tgt); err != nil {
		t.Fatalf("target decode: %v", err)
	}
	if tgt.Token != "tok-from-file" || tgt.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("target = %+v", tgt)
	}

	t.Run("secret file for a key the backend lacks names the _file key", func(t *testing.T) {
		var none struct {
			CAFile string `yaml:"ca_file"`
		}
		err := c.Target.Decode(&none)
		want := filepath.Join(dir, "idsync.yaml") + `:14: connections[0].target.token_file: unknown key (known: ca_file)`
		if err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
	})
}

func TestSecretsNeverInMessages(t *testing.T) {
	const secret = "s3cr3t-VALUE"
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SECRET": secret}
	yaml := `
log: {level: "${SECRET}"}
http: {listen: "${SECRET}"}
connections:
  - name: "${SECRET}"
    schedule: ${SECRET}
    source:
      type: entra
      client_secret: ` + secret + `
      tenant_id: ${SECRET}
    safety: {max_deletes: "${SECRET}", max_delete_percent: "${SECRET}"}
    deprovision: {deleted: "${SECRET}"}
    target:
      type: scim
      token_file: ` + file + `
      secret: {nested: ` + secret + `}
`
	cfg, err := Parse("idsync.yaml", []byte(yaml), mapEnv(env))
	if err == nil {
		t.Fatal("want problems")
	}
	msgs := []string{err.Error()}
	// Backend decoding into mismatched types must not quote them either.
	var wrong struct {
		ClientSecret int `yaml:"client_secret"`
		TenantID     int `yaml:"tenant_id"`
	}
	if err := cfg.Connections[0].Source.Decode(&wrong); err != nil {
		msgs = append(msgs, err.Error())
	} else {
		t.Error("source decode into ints succeeded")
	}
	var wrongT struct {
		Token  bool `yaml:"token"`
		Secret int  `yaml:"secret"`
	}
	if err := cfg.Connections[0].Target.Decode(&wrongT); err != nil {
		msgs = append(msgs, err.Error())
	} else {
		t.Error("target decode succeeded")
	}
	all := strings.Join(msgs, "\n")
	if strings.Contains(all, secret) || strings.Contains(all, strings.ToLower(secret)) {
		t.Errorf("secret leaked:\n%s", all)
	}
	for _, want := range []string{
		"connections[0].safety.max_deletes: must be an integer, got a value that is not shown",
		"connections[0].source.client_secret: must be an integer, got a value that is not shown",
		"connections[0].target.token_file: must be true or false, got a value that is not shown",
		"connections[0].deprovision.deleted: must be one of delete, disable\n",
		"connections[0].schedule: bad cron spec",
		"http.listen: must be host:port such as 127.0.0.1:8080\n",
		"connections[0].name: (value from the environment, not shown) must be lower-case",
	} {
		if !strings.Contains(all+"\n", want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if s := cfg.Connections[0].Target.String(); strings.Contains(s, secret) {
		t.Errorf("Backend.String leaks: %s", s)
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "idsync.yaml", Path: "connections[1].deprovision.deleted", Line: 12, Msg: "must be one of delete, disable"},
			"idsync.yaml:12: connections[1].deprovision.deleted: must be one of delete, disable"},
		{Problem{File: "idsync.yaml", Path: "connections", Msg: "at least one connection is required"},
			"idsync.yaml: connections: at least one connection is required"},
		{Problem{File: "idsync.yaml", Line: 3, Msg: "invalid YAML: x"}, "idsync.yaml:3: invalid YAML: x"},
		{Problem{Path: "a", Line: 3, Msg: "m"}, "line 3: a: m"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	ps := Problems{{Line: 5, Path: "b", Msg: "x"}, {Line: 2, Path: "a", Msg: "y"}, {Line: 5, Path: "b", Msg: "x"}}
	if got := ps.Sorted(); len(got) != 2 || got[0].Line != 2 {
		t.Errorf("Sorted = %v", got)
	}
}

func BenchmarkParseExample(b *testing.B) {
	env := mapEnv(exampleEnv)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("idsync.yaml", Example, env); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUnmanagedPolicy(t *testing.T) {
	base := "connections:\n  - name: a\n    source: {type: entra}\n    target: {type: scim}\n"
	cfg, err := Parse("t.yaml", []byte(base), func(string) (string, bool) { return "", false })
	if err != nil || cfg.Connections[0].Unmanaged != "report" {
		t.Fatalf("default: %v %+v", err, cfg)
	}
	cfg, err = Parse("t.yaml", []byte(base+"    unmanaged: disable\n"), func(string) (string, bool) { return "", false })
	if err != nil || cfg.Connections[0].Unmanaged != "disable" {
		t.Fatalf("disable: %v", err)
	}
	_, err = Parse("t.yaml", []byte(base+"    unmanaged: delete\n"), func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "connections[0].unmanaged") || !strings.Contains(err.Error(), "report, disable") {
		t.Fatalf("delete: %v", err)
	}
}
