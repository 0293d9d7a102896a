package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/idsync/idsync/config"
)

// The read-only commands work from the state alone: after `demo --keep`
// the emulators (and their CA files) are gone; with the secret files gone
// too, status, log and explain still answer from the kept database.
func TestReadOnlyCommandsNeedOnlyTheState(t *testing.T) {
	r := runBinary(t, "demo", "--keep")
	if r.code != exitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	m := regexp.MustCompile(`Kept (\S+) `).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("demo did not say where it kept its files:\n%s", r.stdout)
	}
	dir := m[1]
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfgPath := filepath.Join(dir, "idsync.yaml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// The emulators' CA files were removed with them; check, so the test
	// cannot pass for the wrong reason.
	for _, ca := range regexp.MustCompile(`ca_file: "([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		if _, err := os.Stat(ca[1]); !os.IsNotExist(err) {
			t.Fatalf("the demo's CA file %s is still there (%v)", ca[1], err)
		}
	}
	for _, f := range []string{"graph-secret", "workspace-token"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) result {
		t.Helper()
		r := runBinary(t, append([]string{"--config", cfgPath}, args...)...)
		if r.code != exitOK {
			t.Fatalf("idsync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r
	}
	if out := run("status").stdout; !strings.Contains(out, "contoso") || !strings.Contains(out, "last run    #") {
		t.Fatalf("status:\n%s", out)
	}
	if out := run("log", "--connection", "contoso").stdout; !strings.Contains(out, "quinn.quade@") {
		t.Fatalf("log:\n%s", out)
	}
	out := run("explain", "contoso", "carol.chen@contoso.test").stdout
	if !strings.Contains(out, "decision  active account") || !strings.Contains(out, "Whimsical Editors") || !strings.Contains(out, "role=editor") && !strings.Contains(out, "→ editor") {
		t.Fatalf("explain:\n%s", out)
	}
	// A command that needs the backends still says what is missing.
	if r := runBinary(t, "--config", cfgPath, "sync", "--dry-run"); r.code != exitError || !strings.Contains(r.stderr, "graph-secret") {
		t.Fatalf("sync --dry-run without its secret: exit %d\n%s", r.code, r.stderr)
	}
}

// A secret's unset variable or unreadable file is no error when the
// configuration is only read for the state; everything else still is.
func TestLoadForReading(t *testing.T) {
	dir := t.TempDir()
	yaml := `state: ${STATE_DIR}/idsync.db
connections:
  - name: acme
    source: {type: entra, tenant_id: t, client_id: c, client_secret_file: /nonexistent/secret}
    target: {type: scim, url: "https://example.test/scim", token: "${NO_SUCH_TOKEN}", preset: whimsical}
`
	path := filepath.Join(dir, "idsync.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STATE_DIR", dir)
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "NO_SUCH_TOKEN") || !strings.Contains(err.Error(), "/nonexistent/secret") {
		t.Fatalf("Load: %v", err)
	}
	cfg, err := config.LoadForReading(path)
	if err != nil {
		t.Fatalf("LoadForReading: %v", err)
	}
	if cfg.State != filepath.Join(dir, "idsync.db") || cfg.Connections[0].Name != "acme" {
		t.Fatalf("LoadForReading: state %q, connections %+v", cfg.State, cfg.Connections)
	}
	if tr := targetTraits(cfg.Connections[0].Target); !tr.AssignedRoleRequired {
		t.Fatalf("whimsical traits from the block alone: %+v", tr)
	}
	os.Unsetenv("STATE_DIR")
	if _, err := config.LoadForReading(path); err == nil || !strings.Contains(err.Error(), "STATE_DIR") {
		t.Fatalf("LoadForReading with the state's variable unset: %v", err)
	}
}
