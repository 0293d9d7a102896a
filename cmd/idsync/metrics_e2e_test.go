package main

import (
	"bufio"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/targets/scim/scimtest"
)

// listenOnLoopback is appended to an e2e config: the daemon's listener on
// a free loopback port (listenAddr reads which from its log).
const listenOnLoopback = "http:\n  listen: 127.0.0.1:0\n"

var listeningRE = regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)

// listenAddr waits for the daemon's listener and returns its address.
func (d *daemonProc) listenAddr(t *testing.T) string {
	t.Helper()
	var addr string
	waitFor(t, "the listener", func() bool {
		if m := listeningRE.FindStringSubmatch(d.log.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return addr
}

// scrape reads /metrics at addr into series → value, a series written as
// the exposition format prints it: name{label="v",...}.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %s\n%s", resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMetricsMoveAfterARun scrapes a running daemon's /metrics after its
// first run and again after a run that disabled a user through a
// throttled workspace and a throttled Graph, and checks that every family
// fed by runs, the engine, the state and the outbound requests moved.
func TestMetricsMoveAfterARun(t *testing.T) {
	e := newE2E(t, "    schedule: \"@every 1s\"\n"+listenOnLoopback)
	d := e.startDaemon()
	addr := d.listenAddr(t)
	waitFor(t, "the first run", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	const conn = `connection="contoso"`
	a := scrape(t, addr)
	for series, want := range map[string]float64{
		`idsync_ops_total{` + conn + `,kind="create",result="applied"}`: 11,
		`idsync_outbox_pending_ops{` + conn + `}`:                       0,
		`idsync_held_plan{` + conn + `}`:                                0,
		`idsync_runs_total{` + conn + `,result="failed"}`:               0,
		`idsync_runs_total{` + conn + `,result="held"}`:                 0,
	} {
		if got, ok := a[series]; !ok || got != want {
			t.Errorf("first scrape: %s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	for _, series := range []string{
		`idsync_runs_total{` + conn + `,result="ok"}`,
		`idsync_run_duration_seconds_count{` + conn + `}`,
		`idsync_idp_requests_total{source="entra",status="200"}`,
		`idsync_workspace_requests_total{status="201",target="scim"}`,
		`idsync_last_success_timestamp_seconds{` + conn + `}`,
		`go_goroutines`, `process_resident_memory_bytes`,
	} {
		if a[series] <= 0 {
			t.Errorf("first scrape: %s = %v, want > 0", series, a[series])
		}
	}
	if age, ok := a[`idsync_cursor_age_seconds{`+conn+`}`]; !ok || age < 0 || age > 3600 {
		t.Errorf("first scrape: cursor age %v (present %v)", age, ok)
	}
	if t.Failed() {
		t.FailNow()
	}

	// One 429 from each side, then a change to apply.
	e.ws.Inject(scimtest.Fault{Kind: scimtest.Fault429, Count: 1, RetryAfter: time.Second})
	e.tenant.Throttle("", 1, time.Second)
	if err := e.tenant.DisableUser(e.user("dave.diaz")); err != nil {
		t.Fatal(err)
	}
	var b map[string]float64
	waitFor(t, "the disable in the metrics", func() bool {
		b = scrape(t, addr)
		return b[`idsync_ops_total{`+conn+`,kind="disable",result="applied"}`] == 1
	})
	// OnResult comes after the run's last op is recorded.
	waitFor(t, "the run in the metrics", func() bool {
		b = scrape(t, addr)
		return b[`idsync_runs_total{`+conn+`,result="ok"}`] > a[`idsync_runs_total{`+conn+`,result="ok"}`]
	})
	for _, series := range []string{
		`idsync_run_duration_seconds_count{` + conn + `}`,
		`idsync_idp_requests_total{source="entra",status="200"}`,
		`idsync_last_success_timestamp_seconds{` + conn + `}`,
	} {
		if b[series] <= a[series] {
			t.Errorf("%s did not move: %v then %v", series, a[series], b[series])
		}
	}
	for series, want := range map[string]float64{
		`idsync_workspace_throttled_total{target="scim"}`:             1,
		`idsync_workspace_throttle_wait_seconds_total{target="scim"}`: 1,
		`idsync_workspace_requests_total{status="429",target="scim"}`: 1,
		`idsync_idp_throttled_total{source="entra"}`:                  1,
		`idsync_idp_throttle_wait_seconds_total{source="entra"}`:      1,
		`idsync_idp_requests_total{source="entra",status="429"}`:      1,
	} {
		if b[series] != want {
			t.Errorf("%s = %v, want %v", series, b[series], want)
		}
	}
}
