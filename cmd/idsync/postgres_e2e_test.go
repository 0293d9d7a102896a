package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/state/pgtest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// onPostgres points e's config at a fresh PostgreSQL schema.
func onPostgres(t *testing.T, config string) string {
	t.Helper()
	dsn := pgtest.DSN(t)
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^state: .*$`).ReplaceAll(b, []byte(fmt.Sprintf("state: %q", dsn)))
	if err := os.WriteFile(config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// The whole CLI on a PostgreSQL state: a first sync, a dry run (planned on
// temporary tables), status, and a second sync with nothing to do.
func TestPostgresStateEndToEnd(t *testing.T) {
	e := newE2E(t, noLimits)
	dsn := onPostgres(t, e.config)
	e.must([]string{"sync"})
	if got := e.workspace(); !mapsEqual(got, sampleWorkspace) {
		t.Fatalf("workspace after a sync on PostgreSQL:\n%v\nwant\n%v", got, sampleWorkspace)
	}
	if r := e.must([]string{"sync", "--dry-run"}); strings.Contains(r.stderr, "error") {
		t.Fatalf("dry run: %s", r.stderr)
	}
	st := e.must([]string{"status", "--output", "json"})
	var status struct {
		Connections []connStatus `json:"connections"`
	}
	if err := json.Unmarshal([]byte(st.stdout), &status); err != nil {
		t.Fatal(err)
	}
	if c := status.Connections; len(c) != 1 || c[0].Pending != 0 || c[0].Applied != len(sampleWorkspace) || c[0].Daemon == nil || c[0].Daemon.Live {
		t.Fatalf("status: %s", st.stdout)
	}
	if strings.Contains(st.stdout+st.stderr, dsn) {
		t.Fatal("status shows the state's DSN")
	}
	r := e.must([]string{"sync"})
	if !strings.Contains(r.stdout, " 0 to create, 0 to update") {
		t.Fatalf("second sync planned creates:\n%s", r.stdout)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// failoverConn is one connection of the failover test: its own tenant and
// workspace.
type failoverConn struct {
	name   string
	tenant *entratest.Server
	ws     *scimtest.Server
	want   int
}

// TestFailoverThreeDaemons: three `idsync run` on one PostgreSQL state
// share three connections. The owner of one is SIGKILLed mid-apply, the
// owner of another SIGSTOPped until its lease was taken over and then let
// go on; the workspaces end exact, no op is recorded as applied twice and
// none is lost.
func TestFailoverThreeDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three daemons and applies hundreds of users")
	}
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	const users = 150
	var conns []*failoverConn
	cfg := fmt.Sprintf("state: {postgres: {dsn: %q, lease: 3s}}\nlog: {level: info}\nconnections:\n", dsn)
	for i := range 3 {
		c := &failoverConn{name: fmt.Sprintf("c%d", i+1), tenant: entratest.NewServer(), want: users - users/50}
		t.Cleanup(c.tenant.Close)
		c.tenant.Generate(users, 4)
		scope := c.tenant.AddGroup("Whale Users", "everyone")
		for g := range 4 {
			id, _ := c.tenant.GroupID(fmtGroup(g))
			c.tenant.AddMember(scope, id)
		}
		c.ws = scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "generic", Strict: true, TLS: true})
		t.Cleanup(c.ws.Close)
		secret := filepath.Join(dir, c.name+"-secret")
		token := filepath.Join(dir, c.name+"-token")
		os.WriteFile(secret, []byte(c.tenant.ClientSecret), 0o600)
		os.WriteFile(token, []byte(demoToken), 0o600)
		cfg += fmt.Sprintf(`  - name: %s
    schedule: "@every 1h"
    source: {type: entra, tenant_id: %q, client_id: %q, client_secret_file: %q, graph_url: %q, authority_url: %q, ca_file: %q, scope: {groups: ["Whale Users"]}}
    roles: {default: reader}
    safety: {max_deletes: 0, max_delete_percent: 0}
    target: {type: scim, preset: generic, url: %q, token_file: %q, ca_file: %q, rate_limit: 25, concurrency: 2}
`, c.name, c.tenant.TenantID, c.tenant.ClientID, secret, c.tenant.GraphURL, c.tenant.AuthorityURL, c.tenant.CAFile, c.ws.URL, token, c.ws.CAFile)
		conns = append(conns, c)
	}
	config := filepath.Join(dir, "idsync.yaml")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	daemons := map[int]*exec.Cmd{}
	for i := range 3 {
		cmd := execIdsync(config, "run")
		logf, _ := os.Create(filepath.Join(dir, fmt.Sprintf("daemon%d.log", i)))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		daemons[cmd.Process.Pid] = cmd
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGCONT)
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			logf.Close()
		})
	}
	dump := func() {
		for i := range 3 {
			b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("daemon%d.log", i)))
			t.Logf("daemon %d:\n%s", i, b)
		}
	}
	ctx := context.Background()
	st, err := state.OpenReadOnly(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	leases := func() map[string]state.Lease {
		out := map[string]state.Lease{}
		if err := st.View(ctx, func(tx *state.Tx) error {
			ls, err := tx.Leases()
			for _, l := range ls {
				out[l.Connection] = l
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	waitFor := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) {
				dump()
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// SIGKILL the owner of a connection in the middle of its apply.
	var killed state.Lease
	var victim *failoverConn
	waitFor("a connection mid-apply", time.Minute, func() bool {
		ls := leases()
		for _, c := range conns {
			if n := len(c.ws.Users()); n >= 10 && n < c.want/2 && ls[c.name].Live && daemons[ls[c.name].PID] != nil {
				killed, victim = ls[c.name], c
				return true
			}
		}
		return false
	})
	daemons[killed.PID].Process.Signal(syscall.SIGKILL)
	killedAt := time.Now()
	t.Logf("SIGKILL %s (owner of %s, token %d) with %d of %d users applied", killed.Owner, victim.name, killed.Token, len(victim.ws.Users()), victim.want)

	// SIGSTOP the owner of another connection (a survivor), past its lease.
	var stopped state.Lease
	waitFor("a connection held by a survivor", time.Minute, func() bool {
		ls := leases()
		for _, c := range conns {
			if l := ls[c.name]; c != victim && l.Live && l.PID != killed.PID && l.PID != 0 {
				stopped = l
				return true
			}
		}
		return false
	})
	daemons[stopped.PID].Process.Signal(syscall.SIGSTOP)
	t.Logf("SIGSTOP %s (owner of %s, token %d)", stopped.Owner, stopped.Connection, stopped.Token)
	waitFor("the stopped daemon's connection taken over", time.Minute, func() bool {
		l := leases()[stopped.Connection]
		return l.Live && l.Token > stopped.Token
	})
	waitFor("the killed daemon's connection taken over", time.Minute, func() bool {
		l := leases()[victim.name]
		return l.Live && l.Token > killed.Token
	})
	t.Logf("killed daemon's connection taken over %s after the kill (lease 3s)", time.Since(killedAt).Round(100*time.Millisecond))
	// The stopped daemon wakes up: it must notice and write nothing.
	daemons[stopped.PID].Process.Signal(syscall.SIGCONT)

	waitFor("every workspace complete and every outbox empty", 2*time.Minute, func() bool {
		for _, c := range conns {
			if len(c.ws.Users()) != c.want {
				return false
			}
		}
		empty := true
		st.View(ctx, func(tx *state.Tx) error {
			for _, c := range conns {
				n, err := tx.OutboxLen(c.name)
				if err != nil || n != 0 {
					empty = false
				}
				if rs, err := tx.Runs(state.Filter{Connection: c.name, Limit: 1}); err != nil || len(rs) == 0 || rs[0].Result == state.RunRunning {
					empty = false
				}
			}
			return nil
		})
		return empty
	})
	for _, c := range conns {
		seen := map[string]bool{}
		for _, u := range c.ws.Users() {
			if seen[u.UserName] {
				t.Errorf("%s: %s has two accounts", c.name, u.UserName)
			}
			seen[u.UserName] = true
			if !u.Active {
				t.Errorf("%s: %s inactive", c.name, u.UserName)
			}
		}
		var evs []state.Event
		st.View(ctx, func(tx *state.Tx) (err error) {
			evs, err = tx.Events(state.Filter{Connection: c.name, Limit: 100000})
			return err
		})
		created := map[string]int{}
		for _, e := range evs {
			if e.Kind == "create" && e.Result == "applied" {
				created[e.ObjectID]++
			}
		}
		for id, n := range created {
			if n > 1 {
				t.Errorf("%s: the create of %s recorded as applied %d times", c.name, id, n)
			}
		}
		if len(created) != c.want {
			t.Errorf("%s: %d creates recorded as applied, want %d (one per account)", c.name, len(created), c.want)
		}
	}
	if t.Failed() || testing.Verbose() {
		dump()
	}
}

// With a daemon holding the connection's lease, `idsync sync` on the same
// host is carried out by that daemon (its control socket is found in the
// daemons table); the lease stays the daemon's.
func TestPostgresSyncGoesThroughTheOwningDaemon(t *testing.T) {
	e := newE2E(t, noLimits)
	dsn := onPostgres(t, e.config)
	cmd := execIdsync(e.config, "run")
	var logb strings.Builder
	cmd.Stdout, cmd.Stderr = &logb, &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	ctx := context.Background()
	var held state.Lease
	deadline := time.Now().Add(time.Minute)
	for held.PID != cmd.Process.Pid || !held.Live {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon took no lease:\n%s", logb.String())
		}
		time.Sleep(50 * time.Millisecond)
		st, err := state.OpenReadOnly(ctx, dsn)
		if err != nil {
			continue
		}
		st.View(ctx, func(tx *state.Tx) error {
			ls, err := tx.Leases()
			if len(ls) == 1 {
				held = ls[0]
			}
			return err
		})
		st.Close()
	}
	r := e.must([]string{"sync", "contoso"})
	if !strings.Contains(r.stdout, "contoso (entra)") {
		t.Fatalf("sync through the daemon printed:\n%s\n%s", r.stdout, r.stderr)
	}
	st, err := state.OpenReadOnly(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.View(ctx, func(tx *state.Tx) error {
		ls, err := tx.Leases()
		if len(ls) != 1 || ls[0].Owner != held.Owner || ls[0].Token != held.Token || !ls[0].Live {
			t.Errorf("after the CLI's sync the lease is %+v, want the daemon's %+v", ls, held)
		}
		return err
	})
	if got := e.workspace(); !mapsEqual(got, sampleWorkspace) {
		t.Fatalf("workspace: %v", got)
	}
}
