package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
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
		lat := notifyLatency(b, 100)
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
	ln := freeAddrB(b)
	extra := fmt.Sprintf("    schedule: \"@every 1h\"\n    notify: {public_url: \"http://%s\"}\nhttp: {listen: %q}\n", ln, ln)
	cfg, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(cfg, extra...), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(binary, "--config", path, "run")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitB := func(what string, ok func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				b.Fatalf("timed out waiting for %s\n%s", what, stderr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitB("initial sync", func() bool { return len(ws.Users()) == 11 })
	waitB("subscriptions", func() bool { return len(tenant.Subscriptions()) == 2 })

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
	sales := sample.Groups["Sales"]
	for i := range n {
		upn := fmt.Sprintf("hire%03d@%s", i, entratest.SampleDomain)
		at := time.Now()
		id := tenant.AddUser(entratest.User{UserPrincipalName: upn, Mail: upn, GivenName: "Hire", Surname: fmt.Sprint(i), AccountEnabled: true})
		if err := tenant.AddMember(sales, id); err != nil {
			b.Fatal(err)
		}
		changes <- change{userName: upn, at: at}
		time.Sleep(300*time.Millisecond + rand.N(200*time.Millisecond))
	}
	out := make([]time.Duration, 0, n)
	deadline := time.After(60 * time.Second)
	for len(out) < n {
		select {
		case d := <-lat:
			out = append(out, d)
		case <-deadline:
			b.Fatalf("only %d of %d changes reached the workspace\n%s", len(out), n, stderr.String())
		}
	}
	return out
}

func freeAddrB(b *testing.B) string {
	b.Helper()
	ln, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
