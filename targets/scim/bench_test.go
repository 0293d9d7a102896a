package scim_test

import (
	"context"
	"fmt"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// run applies n ops from make with workers goroutines, as the engine does
// with Concurrency().
func run(b *testing.B, c *scim.Client, workers, n int, make func(i int) idsync.Op) {
	b.Helper()
	var next atomic.Int64
	var wg stdsync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if _, err := c.Apply(context.Background(), make(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkApply: ops/s against scimtest on loopback, concurrency 8, no
// rate limit. A create is a lookup plus a POST; an update is one PATCH.
func BenchmarkApply(b *testing.B) {
	for _, kind := range []idsync.OpKind{idsync.OpCreate, idsync.OpUpdate} {
		b.Run(string(kind), func(b *testing.B) {
			srv := newServer(b, scimtest.Options{})
			c := newClient(b, srv, func(c *scim.Config) { c.Concurrency = 8 })
			ids := make([]string, b.N)
			if kind == idsync.OpUpdate {
				for i := range b.N {
					ids[i] = srv.AddUser(scimtest.User{UserName: fmt.Sprintf("u%d@example.com", i), ExternalID: fmt.Sprint(i), Active: true}).ID
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			run(b, c, c.Concurrency(), b.N, func(i int) idsync.Op {
				a := account(fmt.Sprint(i), fmt.Sprintf("u%d@example.com", i))
				if kind == idsync.OpCreate {
					return createOp(a)
				}
				return idsync.Op{Kind: idsync.OpUpdate, TargetID: ids[i], Account: a,
					Changes: []idsync.FieldChange{{Field: idsync.AttrTitle}, {Field: idsync.AttrFamilyName}}}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}

// BenchmarkRateLimit measures the request rate the workspace sees with
// rate_limit 25 over 30 s (concurrency 4, one request per op). Run it with
// -benchtime 1x; it takes 30 s whatever b.N is.
func BenchmarkRateLimit(b *testing.B) {
	const window = 30 * time.Second
	srv := newServer(b, scimtest.Options{})
	c := newClient(b, srv, func(c *scim.Config) { c.RateLimit = scim.Rate(25) })
	id := srv.AddUser(scimtest.User{UserName: "r@example.com", Active: true}).ID
	a := account("r", "r@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	b.ResetTimer()
	var wg stdsync.WaitGroup
	for range c.Concurrency() {
		wg.Go(func() {
			for ctx.Err() == nil {
				c.Apply(ctx, idsync.Op{Kind: idsync.OpEnable, TargetID: id, Account: a})
			}
		})
	}
	wg.Wait()
	reqs := srv.Requests()
	span := reqs[len(reqs)-1].Time.Sub(reqs[0].Time)
	got := float64(len(reqs)-1) / span.Seconds()
	b.ReportMetric(got, "req/s")
	b.Logf("rate_limit 25: %d requests in %s = %.2f req/s (%.1f%% off)", len(reqs), span.Round(time.Millisecond), got, (got-25)/25*100)
}
