package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	stdsync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu stdsync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// daemonProc is a running `idsync --verbose run`.
type daemonProc struct {
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
	err  error
}

// startDaemon starts the daemon on e's config; it is stopped (SIGTERM) at
// the end of the test.
func (e *e2e) startDaemon() *daemonProc {
	e.t.Helper()
	d := &daemonProc{cmd: execIdsync(e.config, "--verbose", "run"), log: &lockedBuffer{}, done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	e.t.Cleanup(func() { d.stop() })
	return d
}

// stop sends SIGTERM and waits for the daemon to exit.
func (d *daemonProc) stop() error {
	select {
	case <-d.done:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		<-d.done
	}
	return d.err
}

// stallFirst holds the workspace's answer to the first request with method
// until release is called; stalled is closed when that request arrives.
func stallFirst(ws *scimtest.Server, method string) (stalled <-chan struct{}, release func()) {
	arrived, free := make(chan struct{}), make(chan struct{})
	var once, freeOnce stdsync.Once
	ws.OnRequest(func(r scimtest.Request) {
		if r.Method != method {
			return
		}
		first := false
		once.Do(func() { first = true })
		if first {
			close(arrived)
			<-free // the answer is not sent before the handler returns
		}
	})
	return arrived, func() { freeOnce.Do(func() { close(free) }) }
}

// await waits for ch, failing the test after a generous deadline.
func await(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestSecondWriterNamesTheHolder: without a daemon, a sync started while
// another sync writes the state stops at once and names that process; the
// read-only commands and a dry run run beside it.
func TestSecondWriterNamesTheHolder(t *testing.T) {
	e := newE2E(t, "")
	stalled, release := stallFirst(e.ws, "POST")
	defer release()
	first := execIdsync(e.config, "sync")
	var out bytes.Buffer
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	await(t, "the first sync to apply", stalled)

	want := fmt.Sprintf("is in use by `idsync sync` (pid %d, since ", first.Process.Pid)
	for _, args := range [][]string{{"sync"}, {"sync", "--full"}, {"approve", "contoso"}} {
		if r := e.idsync(args...); r.code != exitError || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "wait for it or stop it") {
			t.Fatalf("idsync %s beside a sync: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	for _, args := range [][]string{{"status"}, {"log"}, {"explain", "contoso", "alice.archer@contoso.test"}} {
		e.must(args)
	}
	// The first sync has its plan in the outbox and is applying it: a dry
	// run beside it counts those ops as on their way (nothing planned
	// twice), says so, and sends nothing.
	dry := e.must([]string{"sync", "--dry-run"})
	// (How many wait depends on how many of the other answers came back.)
	waiting := regexp.MustCompile(`\n  (\d+) ops already planned wait in the outbox \(a run applying them now, or one interrupted\)`).FindStringSubmatch(dry.stdout)
	if !strings.Contains(dry.stdout, " 0 to create,") || waiting == nil || waiting[1] == "0" {
		t.Fatalf("dry run beside the first sync:\n%s", dry.stdout)
	}
	release()
	if err := first.Wait(); err != nil {
		t.Fatalf("first sync: %v\n%s", err, out.String())
	}
	if got := e.workspace(); !maps.Equal(got, sampleWorkspace) {
		t.Fatalf("workspace %v", got)
	}
	// Every write came from the first sync: one create per person.
	if n := e.ws.CountRequests("POST", "/Users"); n != len(sampleWorkspace) || e.ws.CountRequests("PATCH", "/") > 0 {
		t.Fatalf("%d creates and %d updates for %d people", n, e.ws.CountRequests("PATCH", "/"), len(sampleWorkspace))
	}
}

// TestKilledRunShowsInterrupted: a run killed with SIGKILL is closed as
// interrupted by the next writer to start, and status and log say so.
func TestKilledRunShowsInterrupted(t *testing.T) {
	e := newE2E(t, "")
	stalled, release := stallFirst(e.ws, "POST")
	cmd := execIdsync(e.config, "sync")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	await(t, "the sync to apply", stalled)
	cmd.Process.Kill()
	cmd.Wait()
	release()
	e.ws.OnRequest(nil)

	// A writer that stops at once (an unknown connection) has still taken
	// the lock: the run is closed.
	if r := e.idsync("sync", "nosuch"); r.code != exitError {
		t.Fatalf("sync nosuch: exit %d\n%s", r.code, r.stderr)
	}
	st := e.must([]string{"status"})
	if !strings.Contains(st.stdout, "last run    #1 incremental") || !strings.Contains(st.stdout, ": interrupted (") {
		t.Fatalf("status after the next start:\n%s", st.stdout)
	}
	e.must([]string{"sync"}) // resumes what was left
	lg := e.must([]string{"log", "--connection", "contoso"})
	if !strings.Contains(lg.stdout, "interrupted") || !strings.Contains(lg.stdout, "run #1") {
		t.Fatalf("log:\n%s", lg.stdout)
	}
	if got := e.workspace(); !maps.Equal(got, sampleWorkspace) {
		t.Fatalf("workspace %v", got)
	}
}

// stallingGraph is a TLS reverse proxy in front of tenant's Graph API. It
// rewrites Graph's absolute links so every page of a pull goes through it,
// and holds the first request for a later page ($skiptoken) until release.
// It returns a config for the same state with graph_url pointing at it.
func stallingGraph(t *testing.T, e *e2e) (config string, stalled <-chan struct{}, release func()) {
	t.Helper()
	upstream, _ := url.Parse(e.tenant.URL)
	arrived, free := make(chan struct{}), make(chan struct{})
	var once, freeOnce stdsync.Once
	var proxyURL string
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Header.Del("Accept-Encoding") // bodies are rewritten below
		},
		Transport: e.tenant.Client().Transport,
		ModifyResponse: func(resp *http.Response) error {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			b = bytes.ReplaceAll(b, []byte(e.tenant.URL), []byte(proxyURL))
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
			return nil
		},
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "skiptoken") {
			first := false
			once.Do(func() { first = true })
			if first {
				close(arrived)
				select {
				case <-free:
				case <-r.Context().Done():
					return
				}
			}
		}
		rp.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // a stalled dry run is cut off at the end
	srv.StartTLS()
	proxyURL = srv.URL
	rel := func() { freeOnce.Do(func() { close(free) }) }
	t.Cleanup(func() { rel(); srv.Close() })

	ca := append([]byte(nil), e.tenant.CAPEM...)
	ca = append(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})...)
	caFile := filepath.Join(e.dir, "proxy-ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), fmt.Sprintf("graph_url: %q", e.tenant.GraphURL), fmt.Sprintf("graph_url: %q", proxyURL+"/v1.0"), 1)
	cfg = strings.Replace(cfg, fmt.Sprintf("ca_file: %q", e.tenant.CAFile), fmt.Sprintf("ca_file: %q", caFile), 1)
	if cfg == string(b) {
		t.Fatal("could not point the config at the proxy")
	}
	config = filepath.Join(e.dir, "dry-run.yaml")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return config, arrived, rel
}

// TestDryRunStalledBesideTheDaemon: a dry run whose pull stalls half way
// must not hold up the daemon: its runs go on and apply changes.
func TestDryRunStalledBesideTheDaemon(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1s\"\n")
	e.tenant.MaxPageSize = 4 // a pull of several pages
	d := e.startDaemon()
	waitFor(t, "the daemon's first run", func() bool { return len(e.ws.Users()) == 11 })

	config, stalled, release := stallingGraph(t, e)
	dry := execIdsync(config, "sync", "--dry-run", "--full")
	var out bytes.Buffer
	dry.Stdout, dry.Stderr = &out, &out
	if err := dry.Start(); err != nil {
		t.Fatal(err)
	}
	await(t, "the dry run to stall mid-pull", stalled)

	e.tenant.DisableUser(e.user("dave.diaz"))
	deadline := time.Now().Add(30 * time.Second)
	for e.workspace()["dave.diaz@contoso.test"] != "active=false role=reader" {
		if strings.Contains(d.log.String(), "run failed") {
			t.Fatalf("a daemon run failed beside the stalled dry run:\n%s", d.log.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not apply a change beside the stalled dry run:\n%s", d.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	release()
	if err := dry.Wait(); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "contoso (entra)") {
		t.Fatalf("dry run output:\n%s", out.String())
	}
	if err := d.stop(); err != nil {
		t.Fatalf("daemon: %v\n%s", err, d.log.String())
	}
}

// TestWritersUnderChurn: the daemon on a 1 s schedule (full reads every
// 2 s) while the directory changes (users added, renamed, disabled) and
// one-shot `sync --full` and `approve` run again and again beside it. No
// live account may be disabled or deleted, and the workspace must see each
// change exactly once.
func TestWritersUnderChurn(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1s\"\n    full_resync: \"@every 2s\"\n    safety: {max_deletes: 1, max_delete_percent: 0}\n")
	e.ws.SetLatency(25 * time.Millisecond) // applying takes a while: writers overlap if they can

	// disabled holds the userNames disabled in the tenant, set before the
	// tenant changes: the workspace may disable those and no one else.
	var mu stdsync.Mutex
	disabled := map[string]bool{}
	var violations []string
	e.ws.OnRequest(func(r scimtest.Request) {
		if r.Method == "GET" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if r.Method == "DELETE" {
			violations = append(violations, "DELETE "+r.Path)
		}
		for _, u := range e.ws.Users() {
			if !u.Active && !disabled[u.UserName] {
				violations = append(violations, "live user disabled: "+u.UserName)
			}
		}
	})

	d := e.startDaemon()
	waitFor(t, "the daemon's first run", func() bool { return len(e.ws.Users()) == 11 })

	want := maps.Clone(sampleWorkspace)
	renamed := map[string]string{} // userName → new family name
	renames := []string{"alice.archer", "bob.baker", "carol.chen", "frank.fischer", "heidi.hughes"}
	// Two disables in one round exceed max_deletes: held, then approved.
	disables := [][]string{{"dave.diaz"}, {"erin.evans", "grace.garcia"}, nil, {"oscar.olsen", "peggy.park"}}
	const rounds = 14
	approved := 0
	for i := range rounds {
		name := fmt.Sprintf("new.hire%d@contoso.test", i)
		id := e.tenant.AddUser(entratest.User{UserPrincipalName: name, GivenName: "New", Surname: fmt.Sprintf("Hire%d", i), AccountEnabled: true})
		if err := e.tenant.AddMember(e.sample.Groups["Sales"], id); err != nil {
			t.Fatal(err)
		}
		want[name] = "active=true role=reader"
		if i < len(renames) {
			r := renames[i] + "@contoso.test"
			renamed[r] = fmt.Sprintf("Renamed%d", i)
			if err := e.tenant.UpdateUser(e.sample.Users[r], func(u *entratest.User) { u.Surname = renamed[r] }); err != nil {
				t.Fatal(err)
			}
		}
		if i < len(disables) {
			for _, x := range disables[i] {
				x += "@contoso.test"
				mu.Lock()
				disabled[x] = true
				mu.Unlock()
				if err := e.tenant.DisableUser(e.sample.Users[x]); err != nil {
					t.Fatal(err)
				}
				want[x] = strings.Replace(want[x], "active=true", "active=false", 1)
			}
		}

		if r := e.idsync("sync", "--full"); r.code != exitOK {
			t.Fatalf("round %d: sync --full: exit %d\nstdout:\n%s\nstderr:\n%s", i, r.code, r.stdout, r.stderr)
		}
		switch r := e.idsync("approve", "contoso"); {
		case r.code == exitOK:
			approved++
		case !strings.Contains(r.stderr, "no held plan"):
			t.Fatalf("round %d: approve: exit %d\nstdout:\n%s\nstderr:\n%s", i, r.code, r.stdout, r.stderr)
		}
	}
	// Converge: release what is held, until the workspace is as wanted.
	deadline := time.Now().Add(20 * time.Second)
	for !maps.Equal(e.workspace(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("workspace\n got %v\nwant %v", e.workspace(), want)
		}
		e.idsync("approve", "contoso")
		e.idsync("sync")
	}
	if err := d.stop(); err != nil {
		t.Fatalf("daemon: %v\n%s", err, d.log.String())
	}
	e.ws.OnRequest(nil)
	mu.Lock()
	if len(violations) > 0 {
		t.Fatalf("%d violations, first: %s", len(violations), violations[0])
	}
	mu.Unlock()

	// Each change exactly once: one POST per account, one write per rename
	// and per disable, nothing else.
	posts := map[string]int{}
	writes := map[string]int{} // by workspace id
	for _, r := range e.ws.Requests() {
		switch {
		case r.Method == "POST" && r.Path == "/Users":
			var body struct{ UserName string }
			json.Unmarshal(r.Body, &body)
			posts[strings.ToLower(body.UserName)]++
		case r.Method != "GET":
			writes[strings.TrimPrefix(r.Path, "/Users/")]++
		}
	}
	for _, u := range e.ws.Users() {
		wantWrites := 0
		if fam, ok := renamed[u.UserName]; ok {
			wantWrites++
			if u.FamilyName != fam {
				t.Errorf("%s: family name %q, want %q", u.UserName, u.FamilyName, fam)
			}
		}
		if disabled[u.UserName] {
			wantWrites++
		}
		if posts[u.UserName] != 1 || writes[u.ID] != wantWrites {
			t.Errorf("%s: %d POSTs and %d writes, want 1 and %d", u.UserName, posts[u.UserName], writes[u.ID], wantWrites)
		}
		delete(writes, u.ID)
	}
	if len(writes) > 0 {
		t.Errorf("writes to unknown accounts: %v", writes)
	}
	if st := e.must([]string{"status", "--output", "json"}); !strings.Contains(st.stdout, `"ops_pending": 0`) {
		t.Fatalf("outbox not empty:\n%s", st.stdout)
	}
	t.Logf("%d rounds, %d held plans approved in them; %d requests", rounds, approved, len(e.ws.Requests()))
}
