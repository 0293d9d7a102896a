package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const stateConn = `
http: {listen: "127.0.0.1:8080"}
connections:
  - name: acme
    source: {type: scim}
    target: {type: webhook, url: "https://x.example/h", secret: "${S}"}
`

func TestStateForms(t *testing.T) {
	env := map[string]string{"S": "s", "PG": "postgres://idsync:pw@db/idsync"}
	if cfg := mustParse(t, stateConn, env); cfg.State != DefaultState || cfg.StateOpts.Lease != 0 {
		t.Errorf("no state: %q %+v", cfg.State, cfg.StateOpts)
	}
	if cfg := mustParse(t, "state: /var/lib/idsync/x.db\n"+stateConn, env); cfg.State != "/var/lib/idsync/x.db" {
		t.Errorf("file: %q", cfg.State)
	}
	if cfg := mustParse(t, "state: ${PG}\n"+stateConn, env); cfg.State != env["PG"] || cfg.StateOpts.Lease != DefaultLease {
		t.Errorf("URL: %q %+v", cfg.State, cfg.StateOpts)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pg"), []byte(env["PG"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, "state: {postgres: {dsn_file: "+filepath.Join(dir, "pg")+", lease: 12s}}\n"+stateConn, env)
	if cfg.State != env["PG"] || cfg.StateOpts.Lease != 12*time.Second {
		t.Errorf("dsn_file: %q %+v", cfg.State, cfg.StateOpts)
	}
}

func TestStateProblems(t *testing.T) {
	env := map[string]string{"S": "s"}
	dir := t.TempDir()
	notURL := filepath.Join(dir, "notaurl")
	os.WriteFile(notURL, []byte("host=db password=hunter2\n"), 0o600)
	for _, c := range []struct{ yaml, want string }{
		{"state: {postgres: {}}", "needs dsn_file"},
		{"state: {postgres: {dsn: postgres://a/b, dsn_file: /x}}", "not both"},
		{"state: {postgres: {dsn_file: " + notURL + "}}", "must be a postgres:// "},
		{"state: {postgres: {dsn: postgres://a/b, lease: 1s}}", "at least"},
		{"state: {postgres: {dsn: postgres://a/b, port: 5}}", "port"},
		{"state: {mysql: x}", "mysql"},
	} {
		probs := strings.Join(problems(t, c.yaml+"\n"+stateConn, env), "\n")
		if !strings.Contains(probs, c.want) {
			t.Errorf("%s: problems %q, want %q", c.yaml, probs, c.want)
		}
		if strings.Contains(probs, "hunter2") {
			t.Errorf("%s: a problem shows the DSN file's password: %s", c.yaml, probs)
		}
	}
}
