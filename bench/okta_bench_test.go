package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/sources/okta"
	"github.com/idsync/idsync/sources/okta/oktatest"
	"github.com/idsync/idsync/sync"
)

// oktaOrg builds a 100,000-user org (100 groups of 1,000 users) with a
// "Whale" app assigned to "Whale Users" (1,000 users, role admin) and one
// user directly, and
// rate limits high enough that pacing never waits.
func oktaOrg(b *testing.B) (*oktatest.Server, string) {
	b.Helper()
	srv := oktatest.NewServer()
	b.Cleanup(srv.Close)
	ids := srv.Generate(100_000, 100)
	srv.SetRateLimit(oktatest.BucketAll, 1<<30)
	app := srv.CreateApp("Whale")
	srv.AssignUser(app.ID, ids[1], "writer")
	g := srv.CreateGroup("Whale Users", "")
	for i := 0; i < len(ids); i += 100 {
		srv.AddMember(g.ID, ids[i])
	}
	srv.AssignGroup(app.ID, g.ID, "admin")
	return srv, app.ID
}

// oktaConn is a connection as cmd/idsync builds it from
//
//	source: {type: okta, org_url, token, ca_file, scope: {app_id}}
//	roles: {default: reader}
//
// on the real clock (the emulator's clock is the wall clock).
func oktaConn(b *testing.B, srv *oktatest.Server, scope sources.Scope) *sync.Connection {
	b.Helper()
	src, err := okta.Open(context.Background(), okta.Config{OrgURL: srv.URL, Token: srv.Token, CAFile: srv.CAFile, Scope: scope})
	if err != nil {
		b.Fatal(err)
	}
	p := policy()
	p.Scope = scope
	return &sync.Connection{Name: "okta-bench", SourceType: "okta", Source: src, Policy: p}
}

// BenchmarkOktaInitialDryRun100k: `idsync sync --dry-run` on an empty state
// against the 100k org (every user planned as a create), and in the same
// iteration a bare paged read of the same pages (users search, groups,
// every group's members).
func BenchmarkOktaInitialDryRun100k(b *testing.B) {
	srv, _ := oktaOrg(b)
	st := openStore(b)
	c := oktaConn(b, srv, sources.Scope{})
	e := sync.New(st, nil)
	hc := srv.Client()
	resetPeakRSS()
	startRSS := rssMB("VmRSS") // the emulator and its tenant, the empty store
	b.ResetTimer()
	var bareTotal, pullTotal time.Duration
	var ops int
	for b.Loop() {
		b.StopTimer()
		t0 := time.Now()
		if n := oktaBareRead(b, srv, hc); n < 200_000 {
			b.Fatalf("bare read saw %d objects", n)
		}
		bareTotal += time.Since(t0)
		// The source alone, changes discarded: what the engine adds is the rest.
		t0 = time.Now()
		if _, _, err := c.Source.Pull(context.Background(), "", func([]idsync.Change) error { return nil }); err != nil {
			b.Fatal(err)
		}
		pullTotal += time.Since(t0)
		b.StartTimer()
		res, err := e.Run(context.Background(), c, sync.Options{DryRun: true})
		if err != nil {
			b.Fatal(err)
		}
		if ops = len(res.Plan.Ops); ops < 100_000 {
			b.Fatalf("dry run planned %d ops", ops)
		}
	}
	b.StopTimer()
	run := b.Elapsed().Seconds() / float64(b.N)
	bareS := bareTotal.Seconds() / float64(b.N)
	b.ReportMetric(bareS, "bare-s/op")
	b.ReportMetric(pullTotal.Seconds()/float64(b.N), "source-s/op")
	b.ReportMetric(run, "dryrun-s/op")
	b.ReportMetric(run/bareS, "ratio")
	b.ReportMetric(rssMB("VmHWM"), "peak-RSS-MB")
	b.ReportMetric(startRSS, "start-RSS-MB")
	b.ReportMetric(float64(ops), "planned-ops")
}

// BenchmarkOktaNoChange100k: after a real full sync into scimtest, an
// incremental run with nothing changed in the org; calls/op is the number
// of API requests the org answered per run.
func BenchmarkOktaNoChange100k(b *testing.B) {
	srv, appID := oktaOrg(b)
	for _, tc := range []struct {
		name  string
		scope sources.Scope
	}{
		{"scope=all", sources.Scope{}},
		{"scope=app", sources.Scope{AppID: appID}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := openStore(b)
			ws, tgt := workspace(b)
			c := oktaConn(b, srv, tc.scope)
			c.Target = tgt
			e := sync.New(st, nil)
			t0 := time.Now()
			res, err := e.Run(context.Background(), c, sync.Options{})
			if err != nil || res.Failed > 0 {
				b.Fatalf("initial sync: %v (%d failed)", err, res.Failed)
			}
			b.Logf("initial real sync: %d ops applied in %s; workspace holds %d users", res.Applied, time.Since(t0).Round(time.Millisecond), len(ws.Users()))
			srv.ResetRequests()
			total, most := 0, 0
			buckets := map[string]int{}
			var perRun []int
			b.ResetTimer()
			for b.Loop() {
				res, err := e.Run(context.Background(), c, sync.Options{})
				if err != nil || len(res.Plan.Ops) != 0 {
					b.Fatalf("no-change run: %v, %d ops", err, len(res.Plan.Ops))
				}
				b.StopTimer()
				n := srv.Requests()
				for _, k := range oktaBuckets {
					buckets[k] += srv.Requests(k)
				}
				srv.ResetRequests()
				total, most = total+n, max(most, n)
				perRun = append(perRun, n)
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(total)/float64(b.N), "calls/op")
			b.ReportMetric(float64(most), "max-calls/run")
			b.Logf("calls per run: %v; per bucket over %d runs: %v", perRun, b.N, buckets)
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
		})
	}
}

var oktaBuckets = []string{oktatest.BucketUsers, oktatest.BucketUser, oktatest.BucketUsersMore, oktatest.BucketGroups,
	oktatest.BucketGroup, oktatest.BucketGroupMore, oktatest.BucketApp, oktatest.BucketApps, oktatest.BucketLogs, oktatest.BucketOther}

// oktaBareRead reads the pages a full pull reads with plain net/http,
// following Link rel="next" and decoding each page into a minimal struct.
func oktaBareRead(b *testing.B, srv *oktatest.Server, hc *http.Client) int {
	n := 0
	var groups []string
	read := func(url string, each func(id string)) {
		for url != "" {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "SSWS "+srv.Token)
			req.Header.Set("Accept", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var items []struct {
				ID string `json:"id"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&items); err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body) // keep the connection reusable
			resp.Body.Close()
			for _, it := range items {
				each(it.ID)
			}
			url = nextLink(resp.Header)
		}
	}
	read(srv.URL+"/api/v1/users?limit=200&search=status+pr", func(string) { n++ })
	read(srv.URL+"/api/v1/groups?limit=1000", func(id string) { groups = append(groups, id) })
	for _, g := range groups {
		read(srv.URL+"/api/v1/groups/"+g+"/users?limit=1000", func(string) { n++ })
	}
	return n
}

func nextLink(h http.Header) string {
	for _, l := range h.Values("Link") {
		if strings.Contains(l, `rel="next"`) {
			return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(strings.SplitN(l, ";", 2)[0]), "<"), ">")
		}
	}
	return ""
}
