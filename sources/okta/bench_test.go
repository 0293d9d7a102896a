package okta_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources/okta"
	"github.com/idsync/idsync/sources/okta/oktatest"
)

// Scale benchmarks build a 100,000-user org in the emulator (in this
// process) and only run under -bench:
//
//	go test ./sources/okta -run '^$' -bench 100k -benchtime 3x
const (
	benchUsers  = 100_000
	benchGroups = 100
)

func benchServer(b *testing.B) *oktatest.Server {
	b.Helper()
	srv := oktatest.NewServer()
	b.Cleanup(srv.Close)
	srv.Generate(benchUsers, benchGroups)
	srv.SetRateLimit(oktatest.BucketAll, 1<<30)
	return srv
}

// BenchmarkPullFull100k is a first (full) pull: users search, groups, and
// every group's members, through the SDK, converted to changes.
func BenchmarkPullFull100k(b *testing.B) {
	srv := benchServer(b)
	src := open(b, srv, nil)
	stop := watchHeap()
	b.ResetTimer()
	for b.Loop() {
		var n int
		_, _, err := src.Pull(context.Background(), "", func(page []idsync.Change) error { n += len(page); return nil })
		if err != nil {
			b.Fatal(err)
		}
		if n < benchUsers*2 {
			b.Fatalf("%d changes", n)
		}
	}
	b.StopTimer()
	stop(b)
}

// BenchmarkBarePagedRead100k reads the same pages with plain net/http:
// follow Link rel="next" and decode each page into a minimal struct. It is
// the floor PullFull is compared with.
func BenchmarkBarePagedRead100k(b *testing.B) {
	srv := benchServer(b)
	hc := srv.Client()
	stop := watchHeap()
	b.ResetTimer()
	for b.Loop() {
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
		if n < benchUsers*2 {
			b.Fatalf("%d items", n)
		}
	}
	b.StopTimer()
	stop(b)
}

// BenchmarkPullNoChange100k is an incremental pull of a settled 100k-user
// org with app scope: it reports the API calls one run costs.
func BenchmarkPullNoChange100k(b *testing.B) {
	srv := oktatest.NewServer()
	b.Cleanup(srv.Close)
	srv.Generate(benchUsers, benchGroups)
	srv.SetRateLimit(oktatest.BucketAll, 1<<30)
	app := srv.CreateApp("Whale")
	srv.AssignUser(app.ID, srv.Generate(1, 0)[0], "admin")
	srv.Advance(10 * time.Minute)
	src := open(b, srv, func(c *okta.Config) { c.Scope.AppID = app.ID })
	cursor, _, err := src.Pull(context.Background(), "", func([]idsync.Change) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	srv.ResetRequests()
	b.ResetTimer()
	for b.Loop() {
		srv.Advance(time.Minute)
		if cursor, _, err = src.Pull(context.Background(), cursor, func([]idsync.Change) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(srv.Requests())/float64(b.N), "calls/op")
}

func nextLink(h http.Header) string {
	for _, l := range h.Values("Link") {
		if strings.Contains(l, `rel="next"`) {
			return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(strings.SplitN(l, ";", 2)[0]), "<"), ">")
		}
	}
	return ""
}

// watchHeap samples the live heap while a benchmark runs and reports its
// peak and the process's peak RSS (which includes the in-process emulator
// and its 100k users).
func watchHeap() func(*testing.B) {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
			}
		}
	}()
	return func(b *testing.B) {
		close(done)
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		b.ReportMetric(peakRSS()/(1<<10), "peak-RSS-MB")
	}
}

func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb
		}
	}
	return 0
}
