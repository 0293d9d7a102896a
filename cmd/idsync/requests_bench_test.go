package main

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// BenchmarkFirstSyncAtRateLimit: the first sync of IDSYNC_BENCH_USERS
// users (default 10,000) into a workspace limited to rate_limit: 25, one
// request per create (listed once, no Bulk). It reports the requests sent
// and the rate achieved as a share of the limit, over the whole run (pull,
// plan and apply). 10,000 users take about 400 s.
//
//	go test ./cmd/idsync -run '^$' -bench FirstSyncAtRateLimit -benchtime 1x
func BenchmarkFirstSyncAtRateLimit(b *testing.B) {
	const limit = 25
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("IDSYNC_BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		ws := scimtest.NewServer(scimtest.Options{Token: "t0ken"})
		off := false
		c, err := scim.New(scim.Config{URL: ws.URL, Token: "t0ken", RateLimit: scim.Rate(limit), Concurrency: 4, Bulk: &off})
		if err != nil {
			b.Fatal(err)
		}
		f := newFirstSync(b, ws, n)
		e, st := f.engine()
		start := time.Now()
		res, err := e.Run(context.Background(), f.conn(c), sync.Options{})
		elapsed := time.Since(start)
		if err != nil || res.Applied != n {
			b.Fatalf("run: %v, applied %d of %d", err, res.Applied, n)
		}
		reqs := len(ws.Requests())
		rate := float64(reqs) / elapsed.Seconds()
		b.ReportMetric(float64(reqs), "requests")
		b.ReportMetric(rate, "req/s")
		b.ReportMetric(100*rate/limit, "%limit")
		st.Close()
		ws.Close()
	}
}
