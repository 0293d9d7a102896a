package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/sources/okta/oktatest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// BenchmarkNotifyLatency: change notification latency end to end. The
// built daemon runs as its own process against loopback emulators with an
// hourly schedule, so only notifications can start runs (debounce 2s, the
// default). 100 new hires, one every 300–500 ms, are each made in the
// tenant (user created, added to a scoped group); the time from that
// mutation until the account exists in the workspace is measured. The
// emulator sends each notification as soon as the change is made (Graph
// itself takes from under a second to minutes): what is measured is
// idsync's part.
//
//	go test ./cmd/idsync -run '^$' -bench NotifyLatency -benchtime 1x
func BenchmarkNotifyLatency(b *testing.B) {
	for range b.N {
		reportLatency(b, notifyLatency(b, 100))
	}
}

// BenchmarkNotifyLatencyOkta is BenchmarkNotifyLatency with an Okta org:
// the hook is registered through the running daemon (`idsync notify
// register`), and each new hire is created and added to Whale Users.
//
//	go test ./cmd/idsync -run '^$' -bench NotifyLatencyOkta -benchtime 1x
func BenchmarkNotifyLatencyOkta(b *testing.B) {
	for range b.N {
		reportLatency(b, oktaNotifyLatency(b, 100))
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	{
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		b.ReportMetric(q(0.50).Seconds(), "p50-s")
		b.ReportMetric(q(0.99).Seconds(), "p99-s")
		b.ReportMetric(lat[len(lat)-1].Seconds(), "max-s")
		b.Logf("%d changes: p50 %s, p90 %s, p99 %s, max %s", len(lat), q(0.5), q(0.9), q(0.99), lat[len(lat)-1])
	}
}

func notifyLatency(b *testing.B, n int) []time.Duration {
	b.Helper()
	tenant := entratest.NewServer()
	defer tenant.Close()
	sample := tenant.LoadSample()
	ws := scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "generic", TLS: true})
	defer ws.Close()
	dir := b.TempDir()
	path, err := writeDemoConfig(dir, tenant, ws, "")
	if err != nil {
		b.Fatal(err)
	}
	ln := freeAddr(b)
	extra := fmt.Sprintf("    schedule: \"@every 1h\"\n    notify: {public_url: \"http://%s\"}\nhttp: {listen: %q}\n", ln, ln)
	cfg, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(cfg, extra...), 0o600); err != nil {
		b.Fatal(err)
	}
	d := startBenchDaemon(b, path)
	defer d.stop()
	d.wait("initial sync", func() bool { return len(ws.Users()) == 11 })
	d.wait("subscriptions", func() bool { return len(tenant.Subscriptions()) == 2 })
	sales := sample.Groups["Sales"]
	return measureHires(b, d, ws, n, func(i int) string {
		upn := fmt.Sprintf("hire%03d@%s", i, entratest.SampleDomain)
		id := tenant.AddUser(entratest.User{UserPrincipalName: upn, Mail: upn, GivenName: "Hire", Surname: fmt.Sprint(i), AccountEnabled: true})
		if err := tenant.AddMember(sales, id); err != nil {
			b.Fatal(err)
		}
		return upn
	})
}

func oktaNotifyLatency(b *testing.B, n int) []time.Duration {
	b.Helper()
	org := oktatest.NewServer()
	defer org.Close()
	sample := org.LoadSample()
	ws := scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "generic", TLS: true})
	defer ws.Close()
	dir := b.TempDir()
	ln := freeAddr(b)
	tokenFile, wsToken := filepath.Join(dir, "okta-token"), filepath.Join(dir, "workspace-token")
	os.WriteFile(tokenFile, []byte(org.Token+"\n"), 0o600)
	os.WriteFile(wsToken, []byte(demoToken+"\n"), 0o600)
	path := filepath.Join(dir, "idsync.yaml")
	cfg := fmt.Sprintf(`state: %q
log: {level: error}
http: {listen: %q}
connections:
  - name: globex
    schedule: "@every 1h"
    notify: {public_url: "http://%s"}
    safety: {max_deletes: 0, max_delete_percent: 0}
    target: {type: scim, url: %q, token_file: %q, preset: generic, ca_file: %q, rate_limit: 0}
    source:
      type: okta
      org_url: %q
      token_file: %q
      ca_file: %q
      scope: {groups: ["Whale Users"]}
`, filepath.Join(dir, "idsync.db"), ln, ln, ws.URL, wsToken, ws.CAFile, org.URL, tokenFile, org.CAFile)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	d := startBenchDaemon(b, path)
	defer d.stop()
	d.wait("initial sync", func() bool { return len(ws.Users()) >= 4 }) // the sample's active Whale Users
	if out, err := exec.Command(binary, "--config", path, "notify", "register", "globex").CombinedOutput(); err != nil {
		b.Fatalf("notify register: %v\n%s", err, out)
	}
	users := sample.Groups["Whale Users"]
	return measureHires(b, d, ws, n, func(i int) string {
		login := fmt.Sprintf("hire%03d@globex.test", i)
		u := org.CreateUser(oktatest.User{Login: login, FirstName: "Hire", LastName: fmt.Sprint(i)})
		org.AddMember(users, u.ID)
		return login
	})
}

type benchDaemon struct {
	b      *testing.B
	cmd    *exec.Cmd
	stderr *lockedBuffer
}

func startBenchDaemon(b *testing.B, path string) *benchDaemon {
	b.Helper()
	d := &benchDaemon{b: b, cmd: exec.Command(binary, "--config", path, "run"), stderr: &lockedBuffer{}}
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return d
}

func (d *benchDaemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
}

func (d *benchDaemon) wait(what string, ok func() bool) {
	d.b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			d.b.Fatalf("timed out waiting for %s\n%s", what, d.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// measureHires makes n changes with hire (which returns the userName the
// workspace will show), one every 300–500 ms, and returns how long each
// took from the mutation to the workspace.
func measureHires(b *testing.B, d *benchDaemon, ws *scimtest.Server, n int, hire func(i int) string) []time.Duration {
	b.Helper()
	type change struct {
		userName string
		at       time.Time
	}
	changes := make(chan change, n)
	lat := make(chan time.Duration, n)
	// One watcher: polls the workspace every 5 ms for what is outstanding.
	go func() {
		var open []change
		seen := map[string]bool{}
		for len(lat) < n {
			select {
			case c := <-changes:
				open = append(open, c)
			case <-time.After(5 * time.Millisecond):
			}
			if len(open) == 0 {
				continue
			}
			for _, u := range ws.Users() {
				seen[u.UserName] = true
			}
			kept := open[:0]
			for _, c := range open {
				if seen[c.userName] {
					lat <- time.Since(c.at)
				} else {
					kept = append(kept, c)
				}
			}
			open = kept
		}
	}()
	for i := range n {
		at := time.Now()
		changes <- change{userName: hire(i), at: at}
		time.Sleep(300*time.Millisecond + rand.N(200*time.Millisecond))
	}
	out := make([]time.Duration, 0, n)
	deadline := time.After(60 * time.Second)
	for len(out) < n {
		select {
		case v := <-lat:
			out = append(out, v)
		case <-deadline:
			b.Fatalf("only %d of %d changes reached the workspace\n%s", len(out), n, d.stderr.String())
		}
	}
	return out
}
