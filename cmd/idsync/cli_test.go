package main

import (
	"encoding/json"
	"github.com/idsync/idsync/sources/entra/entratest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDetailedExitCodes(t *testing.T) {
	e := newE2E(t, "")
	if r := e.idsync("sync", "--dry-run", "--detailed-exitcode"); r.code != exitChanges {
		t.Fatalf("dry run with changes: exit %d", r.code)
	}
	e.must([]string{"sync", "--detailed-exitcode"}, exitChanges)
	if r := e.idsync("sync", "--detailed-exitcode"); r.code != exitOK {
		t.Fatalf("no changes: exit %d\n%s", r.code, r.stdout)
	}
	// 3 of 11 losing access is over the default 10%: held.
	for _, n := range []string{"dave.diaz", "erin.evans", "oscar.olsen"} {
		e.tenant.DisableUser(e.user(n))
	}
	r := e.idsync("sync", "--detailed-exitcode")
	if r.code != exitHeld || !strings.Contains(r.stdout, "held:") || !strings.Contains(r.stdout, "idsync approve contoso") {
		t.Fatalf("held: exit %d\n%s", r.code, r.stdout)
	}
	if r := e.idsync("sync"); r.code != exitOK {
		t.Fatalf("held without --detailed-exitcode: exit %d", r.code)
	}
	st := e.must([]string{"status"})
	if !strings.Contains(st.stdout, "HELD        3 ops") {
		t.Fatalf("status does not show the held plan:\n%s", st.stdout)
	}
	e.must([]string{"approve", "contoso"})
	if r := e.idsync("approve", "contoso"); r.code != exitError || !strings.Contains(r.stderr, "no held plan") {
		t.Fatalf("second approve: exit %d: %s", r.code, r.stderr)
	}
	if r := e.idsync("sync", "nosuch"); r.code != exitError || !strings.Contains(r.stderr, `no connection "nosuch"`) {
		t.Fatalf("unknown connection: exit %d: %s", r.code, r.stderr)
	}
}

func TestJSONOutputIsStable(t *testing.T) {
	e := newE2E(t, "")
	r := e.must([]string{"sync", "--dry-run", "--output", "json"})
	var out struct {
		Results []struct {
			Connection string         `json:"connection"`
			Source     string         `json:"source"`
			DryRun     bool           `json:"dry_run"`
			Counts     map[string]int `json:"counts"`
			Ops        []struct {
				Kind     string `json:"kind"`
				ObjectID string `json:"objectId"`
				Account  struct {
					UserName string `json:"userName"`
					Role     string `json:"role"`
				} `json:"account"`
			} `json:"ops"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	res := out.Results[0]
	if res.Connection != "contoso" || res.Source != "entra" || !res.DryRun || res.Counts["create"] != 11 || len(res.Ops) != 11 ||
		res.Ops[0].Account.UserName != "alice.archer@contoso.test" || res.Ops[0].Account.Role != "reader" {
		t.Fatalf("json: %+v", res)
	}
	e.must([]string{"sync"})
	var log struct {
		Events []struct {
			Kind, Name, Result string
		} `json:"events"`
	}
	lr := e.must([]string{"log", "--output", "json", "--connection", "contoso", "--since", "1h"})
	// The first sync is a full read: it lists the workspace first (one
	// "reconcile" event), then creates.
	if err := json.Unmarshal([]byte(lr.stdout), &log); err != nil || len(log.Events) != 12 || log.Events[0].Kind != "reconcile" ||
		log.Events[0].Result != "listed" || log.Events[1].Result != "applied" {
		t.Fatalf("log json (%v): %s", err, lr.stdout)
	}
}

func TestExplain(t *testing.T) {
	e := newE2E(t, "")
	e.must([]string{"sync"})
	r := e.must([]string{"explain", "contoso", "carol.chen@contoso.test"})
	for _, want := range []string{"scope     in", `rules[0]: group "Whale Admins" → admin`, "decision  active account", "applied   active, role admin", "create"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("explain lacks %q:\n%s", want, r.stdout)
		}
	}
	r = e.must([]string{"explain", "contoso", "judy.jones@contoso.test"})
	if !strings.Contains(r.stdout, "scope     out — not a member of Whale Users") {
		t.Fatalf("explain of an out-of-scope user:\n%s", r.stdout)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "idsync.yaml")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	good := write(`connections:
  - name: acme
    source: {type: entra, tenant_id: t, client_id: c, client_secret: s}
    target: {type: scim, url: "https://whale.example.com/scim/v2", token: x, preset: whale}
`)
	if r := runBinary(t, "--config", good, "config", "check"); r.code != 0 || !strings.Contains(r.stdout, "ok (1 connections)") {
		t.Fatalf("good config: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad := write(`connections:
  - name: acme
    schedul: "@every 5m"
    source: {type: entra, tenant_id: t, client_id: c, client_secret: s, graph_ur: x}
    roles: {default: owner}
    deprovision: {deleted: ignore}
    target: {type: scim, url: "https://whale.example.com/scim/v2", token: x, preset: whale, rate_limt: 3}
  - name: acme
    source: {type: ldap}
    target: {type: webhook, url: "https://hooks.example.com", secret_file: /nonexistent/secret}
`)
	r := runBinary(t, "--config", bad, "config", "check")
	if r.code != exitError {
		t.Fatalf("bad config: exit %d", r.code)
	}
	for _, want := range []string{
		`connections[0].schedul: unknown key (did you mean "schedule"?)`,
		`connections[0].source.graph_ur: unknown key`,
		`connections[0].deprovision.deleted: must be one of delete, disable`,
		`connections[0].target.rate_limt: unknown key`,
		`connections[1].name: duplicate`,
		`connections[1].source.type: unknown source type "ldap"`,
		`connections[1].target.secret_file`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("config check output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(r.stderr)
	}
	roles := write(`connections:
  - name: acme
    source: {type: entra, tenant_id: t, client_id: c, client_secret: s}
    roles: {default: owner}
    target: {type: scim, url: "https://whale.example.com/scim/v2", token: x, preset: whale}
`)
	if r := runBinary(t, "--config", roles, "config", "check"); r.code != exitError || !strings.Contains(r.stderr, "connections[0].roles.default") {
		t.Fatalf("role the preset rejects: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBinary(t, "--config", filepath.Join(dir, "missing.yaml"), "sync"); r.code != exitError || !strings.Contains(r.stderr, "config example") {
		t.Fatalf("missing config: exit %d\n%s", r.code, r.stderr)
	}
}

func TestHelpAndVersion(t *testing.T) {
	r := runBinary(t, "--help")
	for _, cmd := range []string{"sync", "run", "status", "log", "approve", "explain", "config", "demo", "version"} {
		if !strings.Contains(r.stdout, "  "+cmd+" ") {
			t.Errorf("--help does not list %s", cmd)
		}
	}
	if r := runBinary(t, "sync", "--help"); !strings.Contains(r.stdout, "--detailed-exitcode") || !strings.Contains(r.stdout, "3 a plan was held") {
		t.Fatalf("sync --help:\n%s", r.stdout)
	}
	if r := runBinary(t, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "idsync ") {
		t.Fatalf("version: %q", r.stdout)
	}
}

func TestDemo(t *testing.T) {
	r := runBinary(t, "demo")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"11 to create", "+ create   quinn.quade@contoso.test", "~ role     bob.baker@contoso.test", "held:", "applied 5, failed 0",
		"dave.diaz@contoso.test      Dave Diaz      false",
		"subscribed to users and groups", "rosa.rivera has a Whimsical account"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestDaemonReloadAndStop: `idsync run` syncs on schedule, survives a
// SIGHUP with a broken config, picks up a fixed one, and exits cleanly on SIGTERM.
func TestDaemonReloadAndStop(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1s\"\n")
	cmd := exec.Command(binary, "--config", e.config, "--verbose", "run")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "initial sync", func() bool { return len(e.ws.Users()) == 11 })

	good, _ := os.ReadFile(e.config)
	os.WriteFile(e.config, []byte("connections: [\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload error logged", func() bool { return strings.Contains(stderr.String(), "reload failed") })

	os.WriteFile(e.config, good, 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload", func() bool { return strings.Contains(stderr.String(), "configuration reloaded") })
	e.tenant.DisableUser(e.user("dave.diaz"))
	waitFor(t, "scheduled sync after reload", func() bool { return e.workspace()["dave.diaz@contoso.test"] == "active=false role=reader" })

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Fatalf("no clean stop:\n%s", stderr.String())
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFailedOpsExitNonZeroAndAreLogged(t *testing.T) {
	e := newE2E(t, "")
	// A user the workspace must refuse (a blank userName): that op fails, the others apply.
	id := e.tenant.AddUser(entratest.User{UserPrincipalName: " ", GivenName: "No", Surname: "Name", AccountEnabled: true})
	if err := e.tenant.AddMember(e.sample.Groups["Sales"], id); err != nil {
		t.Fatal(err)
	}
	r := e.idsync("sync")
	if r.code != exitError || !strings.Contains(r.stderr, "1 ops failed") || !strings.Contains(r.stdout, "applied 11, failed 1") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if got := e.workspace(); len(got) != 11 {
		t.Fatalf("workspace %v", got)
	}
	lg := e.must([]string{"log", "--output", "json"})
	if !strings.Contains(lg.stdout, `"result": "failed"`) {
		t.Fatalf("log lacks the failure:\n%s", lg.stdout)
	}
}
