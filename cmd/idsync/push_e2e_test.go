package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/targets/scim/scimtest"
)

// pushE2E is a daemon with push connections (source.type: scim) in front of
// emulated workspaces, and an IdP's SCIM client for each connection.
type pushE2E struct {
	t      testing.TB
	dir    string
	config string
	listen string
	ws     map[string]*scimtest.Server
	daemon *daemonProc
}

// freeAddr is a loopback address nothing listens on (the daemon binds it).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newPushE2E writes a config with one push connection per name, each with
// its own workspace; extra is appended to every connection block.
func newPushE2E(t *testing.T, extra string, names ...string) *pushE2E {
	t.Helper()
	return newPushE2EFor(t, extra, "source: {type: scim, debounce: 200ms}", "", names...)
}

// newPushE2EFor is newPushE2E with the source block (one line) and more of
// the target block given.
func newPushE2EFor(t testing.TB, extra, source, targetExtra string, names ...string) *pushE2E {
	t.Helper()
	p := &pushE2E{t: t, dir: t.TempDir(), listen: freeAddr(t), ws: map[string]*scimtest.Server{}}
	token := filepath.Join(p.dir, "workspace-token")
	if err := os.WriteFile(token, []byte(demoToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "state: %q\nhttp: {listen: %q}\nlog: {level: info}\nconnections:\n", filepath.Join(p.dir, "idsync.db"), p.listen)
	for _, name := range names {
		ws := scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "generic", Strict: true, TLS: true})
		t.Cleanup(ws.Close)
		p.ws[name] = ws
		fmt.Fprintf(&b, "  - name: %s\n    %s\n    target:\n      type: scim\n      url: %q\n      token_file: %q\n      ca_file: %q\n%s%s",
			name, source, ws.URL, token, ws.CAFile, targetExtra, extra)
	}
	p.config = filepath.Join(p.dir, "idsync.yaml")
	if err := os.WriteFile(p.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// start starts the daemon (stopped at the end of the test) and waits for
// its listener.
func (p *pushE2E) start() {
	p.t.Helper()
	d := &daemonProc{cmd: execIdsync(p.config, "--verbose", "run"), log: &lockedBuffer{}, done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	p.t.Cleanup(func() { d.stop() })
	p.daemon = d
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the daemon's listener did not come up: %v\n%s", err, d.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *pushE2E) must(args ...string) result {
	p.t.Helper()
	cmd := execIdsync(p.config, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	if r.code != 0 {
		p.t.Fatalf("idsync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// token creates a token of conn (through the daemon when it runs).
func (p *pushE2E) token(conn string) string {
	p.t.Helper()
	return strings.TrimSpace(p.must("token", "create", conn).stdout)
}

// call sends a SCIM request as the IdP would and returns the status and
// the decoded answer.
func (p *pushE2E) call(conn, token, method, path, body string) (int, map[string]any) {
	p.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+p.listen+"/scim/v2/"+conn+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// entraUser is the body Entra's provisioning service POSTs to create a user
// (Microsoft's "Develop a SCIM endpoint" tutorial).
func entraUser(userName, external string) string {
	return fmt.Sprintf(`{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "externalId": %q,
  "userName": %q,
  "active": true,
  "emails": [{"primary": true, "type": "work", "value": %q}],
  "meta": {"resourceType": "User"},
  "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
  "roles": []
}`, external, userName, userName)
}

func (p *pushE2E) workspace(conn string) map[string]bool {
	out := map[string]bool{}
	for _, u := range p.ws[conn].Users() {
		out[u.UserName] = u.Active
	}
	return out
}

// TestPushReachesTheWorkspace: a user Entra pushes is in the workspace
// seconds later, with the listener's id as its externalId; a pushed
// deactivation (Entra's soft delete, "active": "False" as a string)
// disables it there.
func TestPushReachesTheWorkspace(t *testing.T) {
	// One user: any disable is 100% of the applied users.
	p := newPushE2E(t, "    safety: {max_delete_percent: 0}\n", "initech")
	p.start()
	tok := p.token("initech")

	code, created := p.call("initech", tok, "POST", "/Users", entraUser("Alice@Initech.test", "e-alice"))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, created)
	}
	id, _ := created["id"].(string)
	waitFor(t, "alice in the workspace", func() bool {
		return p.workspace("initech")["alice@initech.test"] || p.workspace("initech")["Alice@Initech.test"]
	})
	for _, u := range p.ws["initech"].Users() {
		if u.ExternalID != id {
			t.Errorf("workspace account's externalId %q, want the listener's id %q", u.ExternalID, id)
		}
	}

	// Okta looks a user up by userName before it creates one.
	code, list := p.call("initech", tok, "GET", `/Users?filter=userName%20eq%20%22alice@initech.test%22&startIndex=1&count=100`, "")
	if code != http.StatusOK || fmt.Sprint(list["totalResults"]) != "1" {
		t.Fatalf("lookup: %d %v", code, list)
	}

	code, patched := p.call("initech", tok, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	if code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("deactivate: %d %v", code, patched)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(p.daemon.log.String())
		}
	})
	waitFor(t, "alice disabled in the workspace", func() bool {
		us := p.ws["initech"].Users()
		return len(us) == 1 && !us[0].Active
	})

	st := p.must("status")
	if !strings.Contains(st.stdout, "pushed      1 users, 0 groups") {
		t.Errorf("status:\n%s", st.stdout)
	}
	// The read-only commands work on a push connection as on a pull one.
	if dr := p.must("sync", "--dry-run", "initech"); !strings.Contains(dr.stdout, "initech (scim)") {
		t.Errorf("dry run:\n%s", dr.stdout)
	}
	if lg := p.must("log", "--connection", "initech"); !strings.Contains(lg.stdout, "disable") {
		t.Errorf("log:\n%s", lg.stdout)
	}
	ex := p.must("explain", "initech", id)
	if !strings.Contains(ex.stdout, "disabled") {
		t.Errorf("explain:\n%s", ex.stdout)
	}
}

// TestPushedMassDeleteIsHeld: DELETEs of more users than safety.max_deletes
// are accepted by the listener (the snapshot says they are gone) but the
// plan that would delete their accounts is held for approval.
func TestPushedMassDeleteIsHeld(t *testing.T) {
	p := newPushE2E(t, "    safety: {max_deletes: 2}\n", "initech")
	p.start()
	tok := p.token("initech")
	var ids []string
	for i := range 5 {
		code, created := p.call("initech", tok, "POST", "/Users", entraUser(fmt.Sprintf("user%d@initech.test", i), fmt.Sprintf("e-%d", i)))
		if code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, created)
		}
		ids = append(ids, created["id"].(string))
	}
	waitFor(t, "5 users in the workspace", func() bool { return len(p.workspace("initech")) == 5 })
	for _, id := range ids {
		if code, out := p.call("initech", tok, "DELETE", "/Users/"+id, ""); code != http.StatusNoContent {
			t.Fatalf("delete: %d %v", code, out)
		}
	}
	waitFor(t, "the plan held", func() bool { return strings.Contains(p.must("status").stdout, "HELD") })
	if got := p.workspace("initech"); len(got) != 5 {
		t.Fatalf("a held plan changed the workspace: %v", got)
	}
	for _, active := range p.workspace("initech") {
		if !active {
			t.Fatal("a held plan disabled an account")
		}
	}
	if code, _ := p.call("initech", tok, "GET", "/Users/"+ids[0], ""); code != http.StatusNotFound {
		t.Errorf("a deleted user is still served: %d", code)
	}
}

// TestPushTokensAreScopedToTheirConnection: a token of one connection gets
// 401 on another, with the same answer as no token at all; revoked, it
// gets 401 on its own.
func TestPushTokensAreScopedToTheirConnection(t *testing.T) {
	p := newPushE2E(t, "", "alpha", "beta")
	p.start()
	a, b := p.token("alpha"), p.token("beta")
	if a == b || !strings.HasPrefix(a, "idsync_") {
		t.Fatalf("tokens %q %q", a, b)
	}
	if code, out := p.call("alpha", a, "POST", "/Users", entraUser("secret@alpha.test", "x")); code != http.StatusCreated {
		t.Fatalf("alpha's own token: %d %v", code, out)
	}
	codeCross, cross := p.call("beta", a, "GET", "/Users", "")
	codeNone, none := p.call("beta", "nothing", "GET", "/Users", "")
	codeGone, gone := p.call("gamma", a, "GET", "/Users", "")
	if codeCross != http.StatusUnauthorized || codeNone != http.StatusUnauthorized || codeGone != http.StatusUnauthorized {
		t.Fatalf("alpha's token on beta: %d, no token: %d, unknown connection: %d", codeCross, codeNone, codeGone)
	}
	if fmt.Sprint(cross) != fmt.Sprint(none) || fmt.Sprint(cross) != fmt.Sprint(gone) {
		t.Errorf("the refusals differ (they must reveal nothing):\n%v\n%v\n%v", cross, none, gone)
	}
	if code, list := p.call("beta", b, "GET", "/Users", ""); code != http.StatusOK || fmt.Sprint(list["totalResults"]) != "0" {
		t.Errorf("beta sees: %d %v", code, list)
	}
	lst := p.must("token", "list")
	if !strings.Contains(lst.stdout, "alpha") || !strings.Contains(lst.stdout, "token-1") || strings.Contains(lst.stdout, a) {
		t.Errorf("token list:\n%s", lst.stdout)
	}
	p.must("token", "revoke", "alpha", "token-1")
	if code, _ := p.call("alpha", a, "GET", "/Users", ""); code != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d", code)
	}
	if log := p.daemon.log.String(); strings.Contains(log, a) || strings.Contains(log, b) || !strings.Contains(log, "scim: refused a request") {
		t.Errorf("daemon log (must note refusals, never a token):\n%s", log)
	}
	var buf bytes.Buffer
	buf.WriteString(p.must("token", "list", "--output", "json").stdout)
	if !strings.Contains(buf.String(), `"revoked"`) {
		t.Errorf("token list json:\n%s", buf.String())
	}
}

// TestTokenCommandsWithoutTheDaemon: with no daemon, the token commands
// write the state themselves; a daemon started later honours them.
func TestTokenCommandsWithoutTheDaemon(t *testing.T) {
	p := newPushE2E(t, "", "initech")
	tok := strings.TrimSpace(p.must("token", "create", "initech", "--name", "entra", "--expires", "90d").stdout)
	if strings.Contains(tok, "\n") || !strings.HasPrefix(tok, "idsync_") {
		t.Fatalf("stdout is not the token alone: %q", tok)
	}
	r := runBinary(t, "--config", p.config, "token", "create", "initech", "--name", "entra")
	if r.code == 0 || !strings.Contains(r.stderr, "already has a token named") {
		t.Fatalf("same name twice: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBinary(t, "--config", p.config, "token", "create", "nope"); r.code == 0 || !strings.Contains(r.stderr, `no connection "nope"`) {
		t.Fatalf("unknown connection: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBinary(t, "--config", p.config, "token", "create", "initech", "--expires", "soon"); r.code == 0 || !strings.Contains(r.stderr, "--expires") {
		t.Fatalf("bad expiry: exit %d\n%s", r.code, r.stderr)
	}
	old := strings.TrimSpace(p.must("token", "create", "initech").stdout)
	p.must("token", "revoke", "initech", "token-1")
	lst := p.must("token", "list", "initech").stdout
	for _, line := range strings.Split(lst, "\n") {
		switch {
		case strings.Contains(line, "entra") && strings.Count(line, "never") != 1: // never used, but expires
			t.Errorf("entra's line: %q", line)
		case strings.Contains(line, "token-1") && !strings.Contains(line, "revoked"):
			t.Errorf("token-1's line: %q", line)
		}
	}
	if !strings.Contains(lst, "entra") || !strings.Contains(lst, "token-1") {
		t.Errorf("list:\n%s", lst)
	}
	p.start()
	if code, _ := p.call("initech", tok, "GET", "/Users", ""); code != http.StatusOK {
		t.Errorf("the token created before the daemon: %d", code)
	}
	if code, _ := p.call("initech", old, "GET", "/Users", ""); code != http.StatusUnauthorized {
		t.Errorf("the token revoked before the daemon: %d", code)
	}
}

// TestPushAcrossAReload: after SIGHUP the listener serves the same
// connection's resources, with the writes made before and after it.
func TestPushAcrossAReload(t *testing.T) {
	p := newPushE2E(t, "", "initech")
	p.start()
	tok := p.token("initech")
	code, created := p.call("initech", tok, "POST", "/Users", entraUser("reload@initech.test", "e"))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["id"].(string)
	p.daemon.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(p.daemon.log.String(), "configuration reloaded") })
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"After"}]}`
	if code, out := p.call("initech", tok, "PATCH", "/Users/"+id, patch); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("patch after the reload: %d %v", code, out)
	}
	code, got := p.call("initech", tok, "GET", "/Users/"+id, "")
	if code != http.StatusOK || got["title"] != "After" {
		t.Fatalf("after the reload: %d %v", code, got)
	}
	if code, list := p.call("initech", tok, "GET", `/Users?filter=userName%20eq%20%22RELOAD@initech.test%22`, ""); code != http.StatusOK || fmt.Sprint(list["totalResults"]) != "1" {
		t.Fatalf("lookup after the reload: %d %v", code, list)
	}
	waitFor(t, "the title in the workspace", func() bool {
		us := p.ws["initech"].Users()
		return len(us) == 1 && us[0].Title == "After"
	})
}
