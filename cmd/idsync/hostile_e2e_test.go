package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/idsync/idsync/state"
)

// runsOf reads the runs recorded for conn in the state at path, newest first.
func runsOf(t *testing.T, path, conn string) []state.Run {
	t.Helper()
	s, err := state.OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var runs []state.Run
	if err := s.View(context.Background(), func(tx *state.Tx) (err error) {
		runs, err = tx.Runs(state.Filter{Connection: conn})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return runs
}

// TestHangingGraphRunEndsAtRunTimeout: Graph stops answering in the middle
// of a pull (the second page never comes). The sync no longer hangs: at
// run_timeout it is ended, says what stalled and which deadline passed,
// and is recorded as failed; the next sync goes through.
func TestHangingGraphRunEndsAtRunTimeout(t *testing.T) {
	e := newE2E(t, "    run_timeout: 2s\n")
	e.tenant.MaxPageSize = 4 // a pull of several pages
	config, stalled, _ := stallingGraph(t, e)
	r := runBinary(t, "--config", config, "sync")
	await(t, "the pull to reach the stalled page", stalled)
	if r.code != exitError || !strings.Contains(r.stderr, "run stalled: still pulling from Entra when its deadline (run_timeout 2s) passed") {
		t.Fatalf("sync against a hanging Graph: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	runs := runsOf(t, filepath.Join(e.dir, "idsync.db"), "contoso")
	if len(runs) != 1 || runs[0].Result != state.RunFailed || !strings.Contains(runs[0].Error, "run stalled") {
		t.Fatalf("runs recorded: %+v", runs)
	}
	runBinary(t, "--config", config, "sync") // the proxy holds only its first later page
	if n := len(e.ws.Users()); n != 11 {
		t.Fatalf("the sync after the stall left %d users in the workspace, want 11", n)
	}
}

// TestDaemonRunsAgainAfterAStalledRun: under the daemon a hanging Graph
// held the connection forever, and skip-if-running dropped every later
// tick without a word. Now the stalled run is ended at run_timeout and
// logged, the ticks it blocks are logged as skipped, and a later scheduled
// run applies. The daemon's files are owner-only meanwhile.
func TestDaemonRunsAgainAfterAStalledRun(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1s\"\n    run_timeout: 4s\n")
	e.tenant.MaxPageSize = 4 // a pull of several pages
	config, stalled, _ := stallingGraph(t, e)
	e.config = config
	d := e.startDaemon()
	await(t, "the first run to stall", stalled)
	waitFor(t, "a scheduled run to apply after the stall", func() bool { return len(e.ws.Users()) == 11 })
	log := d.log.String()
	for _, want := range []string{
		`msg="run passed its deadline; ending it" connection=contoso run_timeout=4s phase="pulling from Entra"`,
		`msg="run failed" connection=contoso error="run stalled: still pulling from Entra when its deadline (run_timeout 4s) passed`,
		`msg="scheduled run skipped: the previous one is still going" connection=contoso kind=incremental`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the daemon's log lacks %s:\n%s", want, log)
		}
	}
	if runtime.GOOS != "windows" {
		db := filepath.Join(e.dir, "idsync.db")
		for _, f := range []string{db, db + "-wal", db + "-shm", db + ".lock", db + ".sock"} {
			if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v, want mode 0600 (%v)", filepath.Base(f), fi.Mode().Perm(), err)
			}
		}
	}
	if err := d.stop(); err != nil {
		t.Fatalf("daemon: %v\n%s", err, d.log.String())
	}
}

// hostileOkta is an "Okta org" over TLS whose every answer carries a Link
// header the Okta SDK cannot parse (`<%zz>; rel="next"`): it panicked
// inside the SDK and took the daemon with it. It returns the org's URL and
// a CA file trusting it.
func hostileOkta(t *testing.T, dir string) (orgURL, caFile string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Link", `<%zz>; rel="next"`)
		w.Write([]byte("[]"))
	}))
	t.Cleanup(srv.Close)
	caFile = filepath.Join(dir, "hostile-okta-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile
}

// TestHostileOktaDoesNotStopTheDaemon: one connection's IdP answers with
// what made the Okta SDK panic. That connection's runs fail (recorded);
// the daemon, its other connection and commands sent to it carry on, and
// a one-shot sync fails with an error instead of a crash.
func TestHostileOktaDoesNotStopTheDaemon(t *testing.T) {
	e := newE2E(t, "")
	org, ca := hostileOkta(t, e.dir)
	tok := filepath.Join(e.dir, "okta-token")
	if err := os.WriteFile(tok, []byte("00hostile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `  - name: globex
    schedule: "@every 1s"
    source: {type: okta, org_url: %q, token_file: %q, ca_file: %q}
    target: {type: scim, url: %q, token_file: %q, ca_file: %q, preset: generic}
`, org, tok, ca, e.ws.URL, filepath.Join(e.dir, "workspace-token"), e.ws.CAFile)
	f.Close()

	// One-shot: an error and exit 1, not a Go crash (exit 2, a goroutine dump).
	r := e.idsync("sync", "globex")
	if r.code != exitError || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("sync of the hostile org: exit %d\nstderr:\n%s", r.code, r.stderr)
	}

	d := e.startDaemon()
	db := filepath.Join(e.dir, "idsync.db")
	waitFor(t, "the other connection to apply", func() bool { return len(e.ws.Users()) == 11 })
	waitFor(t, "two failed runs of the hostile connection", func() bool {
		n := 0
		for _, r := range runsOf(t, db, "globex") {
			if r.Result == state.RunFailed {
				n++
			}
		}
		return n >= 3 // the one-shot's and two of the daemon's
	})
	// A command sent to the daemon runs the hostile connection too.
	if r := e.idsync("sync", "globex"); r.code != exitError || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("forwarded sync of the hostile org: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	e.tenant.DisableUser(e.user("dave.diaz"))
	if r := e.idsync("sync", "contoso"); r.code != exitOK {
		t.Fatalf("forwarded sync of the other connection: exit %d\n%s", r.code, r.stderr)
	}
	if got := e.workspace()["dave.diaz@contoso.test"]; got != "active=false role=reader" {
		t.Fatalf("dave.diaz after the forwarded sync: %q", got)
	}
	if err := d.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the daemon is gone: %v\n%s", err, d.log.String())
	}
	if err := d.stop(); err != nil {
		t.Fatalf("daemon: %v\n%s", err, d.log.String())
	}
	if runs := runsOf(t, db, "globex"); runs[0].Result != state.RunFailed || runs[0].Error == "" {
		t.Fatalf("last run of the hostile connection: %+v", runs[0])
	}
}

// TestEnvironmentValuesNeverInBackendConfigErrors: a value that came from
// the environment is never printed, by the config or by any backend, even
// when it is the value at fault; the problem still names the field.
func TestEnvironmentValuesNeverInBackendConfigErrors(t *testing.T) {
	const marker = "Zx9MARKERq7"
	env := map[string]string{
		"BAD_TENANT":    "contoso.onmicrosoft.com/" + marker,
		"BAD_GRAPH":     "https://admin:" + marker + "@graph.example.com/v1.0",
		"BAD_AUTHORITY": "http://" + marker + ".example.com/",
		"BAD_OKTA":      "https://" + marker + "-admin.okta.com",
		"BAD_OKTA_URL":  "http://" + marker + ".okta.com/path?q=1",
		"BAD_SCIM":      marker + " is no url",
		"BAD_PRESET":    "preset-" + marker,
		"BAD_HOOK":      "ftp//" + marker,
		"BAD_TYPE":      "type-" + marker,
		"BAD_ROLE":      "role-" + marker,
		"GOOD_TENANT":   "11111111-2222-3333-4444-555555555555",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "idsync.yaml")
	entra := func(extra string) string {
		return `{type: entra, client_id: 66666666-7777-8888-9999-000000000000, client_secret: s3cret-value, ` + extra + `}`
	}
	okta := func(url string) string { return fmt.Sprintf(`{type: okta, org_url: "%s", token: t0ken-value}`, url) }
	scim := `{type: scim, url: "https://scim.example.com/v2", token: t0ken-value}`
	if err := os.WriteFile(config, []byte(`state: `+filepath.Join(dir, "idsync.db")+`
connections:
  - name: a
    source: `+entra(`tenant_id: "${BAD_TENANT}"`)+`
    target: `+scim+`
  - name: b
    source: `+entra(`tenant_id: "${GOOD_TENANT}", graph_url: "${BAD_GRAPH}"`)+`
    target: {type: scim, url: "${BAD_SCIM}", token: t0ken-value}
  - name: c
    source: `+entra(`tenant_id: "${GOOD_TENANT}", authority_url: "${BAD_AUTHORITY}"`)+`
    target: {type: scim, url: "https://scim.example.com/v2", token: t0ken-value, preset: "${BAD_PRESET}"}
  - name: d
    source: `+okta("${BAD_OKTA}")+`
    target: {type: webhook, url: "${BAD_HOOK}", secret: s3cret-value}
  - name: e
    source: `+okta("${BAD_OKTA_URL}")+`
    target: {type: "${BAD_TYPE}"}
  - name: f
    source: {type: "${BAD_TYPE}"}
    roles: {default: "${BAD_ROLE}"}
    target: {type: scim, url: "https://scim.example.com/v2", token: t0ken-value, preset: whale}
  - name: g
    source: `+okta("https://globex.okta.com")+`
    roles: {default: "${BAD_ROLE}"}
    target: {type: scim, url: "https://scim.example.com/v2", token: t0ken-value, preset: whale}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	fields := []string{
		"connections[0].source.tenant_id", "connections[1].source.graph_url", "connections[1].target.url",
		"connections[2].source.authority_url", "connections[2].target.preset", "connections[3].source.org_url",
		"connections[3].target.url", "connections[4].source.org_url", "connections[4].target.type",
		"connections[5].source.type", "connections[6].roles.default",
	}
	for _, args := range [][]string{{"config", "check"}, {"sync"}, {"sync", "--dry-run"}} {
		r := runBinary(t, append([]string{"--config", config}, args...)...)
		out := r.stdout + r.stderr
		if r.code != exitError {
			t.Errorf("idsync %s: exit %d\n%s", strings.Join(args, " "), r.code, out)
		}
		if strings.Contains(out, marker) {
			t.Errorf("idsync %s shows a value from the environment:\n%s", strings.Join(args, " "), out)
		}
		for _, f := range fields {
			if !strings.Contains(out, f+": ") {
				t.Errorf("idsync %s does not report %s:\n%s", strings.Join(args, " "), f, out)
			}
		}
	}
}

// TestReadableSecretFileWarns: a token file other users can read is named
// in a warning by the commands that read it, and by config check; it still
// works (some platforms mount secrets 0644).
func TestReadableSecretFileWarns(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	e := newE2E(t, "")
	token := filepath.Join(e.dir, "workspace-token")
	if err := os.Chmod(token, 0o644); err != nil {
		t.Fatal(err)
	}
	want := token + " holds a secret or a private key and other users can read it (mode 0644)"
	r := e.must([]string{"config", "check"})
	if !strings.Contains(r.stderr, "idsync: warning: "+e.config+":") || !strings.Contains(r.stderr, "connections[0].target.token_file: "+want) {
		t.Errorf("config check:\n%s", r.stderr)
	}
	r = e.must([]string{"--verbose", "sync"}) // the test config logs errors only
	if !strings.Contains(r.stderr, "level=WARN") || !strings.Contains(r.stderr, want) {
		t.Errorf("sync does not warn about the token file:\n%s", r.stderr)
	}
	if n := len(e.ws.Users()); n != 11 {
		t.Errorf("sync with a readable token file applied %d users, want 11", n)
	}
	if err := os.Chmod(token, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.must([]string{"--verbose", "sync"}); strings.Contains(r.stderr, "other users can read") {
		t.Errorf("a 0600 token file was warned about:\n%s", r.stderr)
	}
}
