package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/state/pgtest"
)

// TestBenchManyConnections measures one `idsync run` with many connections
// on 5-minute schedules: the first round's time, the daemon's memory and
// CPU per connection, and how late the scheduled runs start (drift). It
// runs only with IDSYNC_BENCH_CONNS=N (it takes over five minutes); the
// state is PostgreSQL when IDSYNC_BENCH_POSTGRES is set, else SQLite.
// Every connection reads the same small emulated tenant (its own snapshot)
// and sends signed webhooks to one loopback receiver.
//
//	IDSYNC_BENCH_CONNS=1000 go test ./cmd/idsync -run TestBenchManyConnections -v -timeout 30m
func TestBenchManyConnections(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("IDSYNC_BENCH_CONNS"))
	if n <= 0 {
		t.Skip("set IDSYNC_BENCH_CONNS to run")
	}
	dir := t.TempDir()
	loc := filepath.Join(dir, "idsync.db")
	if os.Getenv("IDSYNC_BENCH_POSTGRES") != "" {
		loc = pgtest.DSN(t)
	}
	tenant := entratest.NewServer()
	defer tenant.Close()
	tenant.LoadSample()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer hook.Close()
	secret := filepath.Join(dir, "graph-secret")
	os.WriteFile(secret, []byte(tenant.ClientSecret), 0o600)
	var b strings.Builder
	fmt.Fprintf(&b, "state: %q\nlog: {level: warn}\nconnections:\n", loc)
	for i := range n {
		fmt.Fprintf(&b, `  - name: c%04d
    schedule: "@every 5m"
    source: {type: entra, tenant_id: %q, client_id: %q, client_secret_file: %q, graph_url: %q, authority_url: %q, ca_file: %q}
    roles: {default: reader}
    target: {type: webhook, url: %q, secret: "s3cret-s3cret-s3cret"}
`, i, tenant.TenantID, tenant.ClientID, secret, tenant.GraphURL, tenant.AuthorityURL, tenant.CAFile, hook.URL)
	}
	config := filepath.Join(dir, "idsync.yaml")
	os.WriteFile(config, []byte(b.String()), 0o600)

	// IDSYNC_BENCH_DAEMONS=3 (PostgreSQL): that many daemons share the
	// connections; memory and CPU are their sums.
	daemons, _ := strconv.Atoi(os.Getenv("IDSYNC_BENCH_DAEMONS"))
	daemons = max(daemons, 1)
	var pids []int
	t0 := time.Now()
	logf, _ := os.Create(filepath.Join(dir, "daemon.log"))
	for range daemons {
		cmd := execIdsync(config, "run")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
		pids = append(pids, cmd.Process.Pid)
	}
	procs := func() (rss, cpu float64) {
		for _, pid := range pids {
			r, c := procStats(pid)
			rss, cpu = rss+r, cpu+c
		}
		return rss, cpu
	}
	ctx := context.Background()
	// The store is opened again at every look: a SQLite file opened before
	// the daemon created it would read as empty for good.
	view := func(f func(*state.Tx) error) {
		st, err := state.OpenReadOnly(ctx, loc)
		if err != nil {
			return
		}
		defer st.Close()
		st.View(ctx, f)
	}
	// finished counts the connections with at least k finished runs, and
	// returns the start times of their k-th runs.
	finished := func(k int) []time.Time {
		var starts []time.Time
		view(func(tx *state.Tx) error {
			runs, err := tx.Runs(state.Filter{Limit: 10 * n})
			byConn := map[string][]state.Run{}
			for _, r := range runs {
				if r.Result != state.RunRunning {
					byConn[r.Connection] = append(byConn[r.Connection], r)
				}
			}
			for _, rs := range byConn {
				if len(rs) >= k {
					slices.SortFunc(rs, func(a, b state.Run) int { return a.StartedAt.Compare(b.StartedAt) })
					starts = append(starts, rs[k-1].StartedAt)
				}
			}
			return err
		})
		return starts
	}
	wait := func(k int, limit time.Duration) []time.Time {
		deadline := time.Now().Add(limit)
		for {
			s := finished(k)
			if len(s) == n {
				return s
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
				t.Fatalf("%d of %d connections finished run %d\n%s", len(s), n, k, b)
			}
			time.Sleep(time.Second)
		}
	}
	wait(1, 10*time.Minute)
	first := time.Since(t0)
	rss1, cpu1 := procs()
	idleFrom := time.Now()
	second := wait(2, 15*time.Minute)
	rss2, cpu2 := procs()
	if daemons > 1 {
		per := map[string]int{}
		view(func(tx *state.Tx) error {
			ls, err := tx.Leases()
			for _, l := range ls {
				if l.Live {
					per[l.Owner]++
				}
			}
			return err
		})
		t.Logf("%d daemons; live leases per daemon: %v", daemons, per)
	}
	var drift []time.Duration
	for _, s := range second {
		drift = append(drift, s.Sub(t0.Add(5*time.Minute)))
	}
	slices.Sort(drift)
	t.Logf("%d connections on %s: first round (start + one run each) %s; RSS %.0f MiB after it (%.0f KiB/connection), %.0f MiB after the scheduled round",
		n, map[bool]string{true: "PostgreSQL", false: "SQLite"}[state.IsPostgres(loc)], first.Round(time.Second), rss1, rss1*1024/float64(n), rss2)
	t.Logf("CPU from the end of the first round to the end of the second (%s, one scheduled run each): %.1f s = %.1f ms/connection per 5-minute cycle",
		time.Since(idleFrom).Round(time.Second), cpu2-cpu1, (cpu2-cpu1)*1000/float64(n))
	t.Logf("scheduled-run start vs daemon start + 5m (includes process start-up): min %s, median %s, p99 %s, max %s",
		drift[0].Round(time.Millisecond), drift[len(drift)/2].Round(time.Millisecond), drift[len(drift)*99/100].Round(time.Millisecond), drift[len(drift)-1].Round(time.Millisecond))
}

// procStats reads a process's resident set (MiB) and its CPU time (user +
// system, seconds) from /proc.
func procStats(pid int) (rssMiB, cpuSec float64) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
				rssMiB = kb / 1024
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseFloat(f[11], 64)
		stt, _ := strconv.ParseFloat(f[12], 64)
		cpuSec = (ut + stt) / 100 // clock ticks (USER_HZ 100 on Linux)
	}
	return rssMiB, cpuSec
}
