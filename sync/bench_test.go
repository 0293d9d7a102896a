package sync

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/state/pgtest"
)

// Benchmarks of the engine on a temp-file SQLite snapshot. Numbers are in
// the README. Run: go test ./sync -run '^$' -bench . -benchmem

// seed fills conn's snapshot with users in groups (every user directly in
// two groups, every tenth group nested in the one before, all groups nested
// in "All") and, with applied, the applied state of every user, as after a
// first sync.
func seed(b *testing.B, st *state.Store, c *Connection, users, groups int, applied bool) {
	b.Helper()
	ctx := context.Background()
	var page []idsync.Change
	flush := func() {
		if err := st.Update(ctx, func(tx *state.Tx) error { return tx.ApplyChanges(c.Name, 1, page) }); err != nil {
			b.Fatal(err)
		}
		page = page[:0]
	}
	add := func(ch idsync.Change) {
		page = append(page, ch)
		if len(page) == 1000 {
			flush()
		}
	}
	add(idsync.GroupChange(idsync.Group{ID: "g-all", Name: "All"}))
	for g := range groups {
		id := fmt.Sprintf("g%05d", g)
		add(idsync.GroupChange(idsync.Group{ID: id, Name: fmt.Sprintf("Group %d", g)}))
		parent := "g-all"
		if g%10 == 9 {
			parent = fmt.Sprintf("g%05d", g-1)
		}
		add(idsync.MemberAddedChange(parent, id, idsync.MemberGroup))
	}
	for i := range users {
		id := fmt.Sprintf("u%07d", i)
		add(idsync.UserChange(benchUser(i, "")))
		add(idsync.MemberAddedChange(fmt.Sprintf("g%05d", i%groups), id, idsync.MemberUser))
		add(idsync.MemberAddedChange(fmt.Sprintf("g%05d", (i*31+7)%groups), id, idsync.MemberUser))
	}
	flush()
	err := st.Update(ctx, func(tx *state.Tx) error {
		if applied {
			ev, err := c.evaluate(tx, true)
			if err != nil {
				return err
			}
			for _, f := range ev.users {
				d := c.decide(ev.graph, f)
				if err := tx.SetAppliedUser(c.Name, "t-"+f.id, d.account); err != nil {
					return err
				}
			}
		}
		return tx.ClearDirty(c.Name, nil, nil, true)
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchUser(i int, title string) idsync.User {
	return idsync.User{ID: fmt.Sprintf("u%07d", i), UserName: fmt.Sprintf("user%07d@acme.test", i), Email: fmt.Sprintf("user%07d@acme.test", i),
		GivenName: "Given", FamilyName: fmt.Sprint("Family", i), DisplayName: fmt.Sprint("User ", i), Title: title,
		Department: "Engineering", Status: idsync.StatusActive}
}

func benchConn() *Connection {
	return &Connection{Name: "bench", SourceType: "entra", Policy: Policy{
		Scope: sources.Scope{Groups: []string{"All"}}, DefaultRole: "reader",
		Rules:       []RoleRule{{Group: "Group 7", Role: "admin"}, {Group: "Group 8", Role: "writer"}},
		Deprovision: DefaultDeprovision,
	}}
}

func openBench(b *testing.B) *state.Store {
	b.Helper()
	loc := b.TempDir() + "/bench.db"
	if os.Getenv("IDSYNC_BENCH_POSTGRES") != "" { // the same benchmarks on PostgreSQL
		loc = pgtest.DSN(b)
	}
	st, err := state.Open(context.Background(), loc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// peakHeap samples the heap while f runs and returns the highest live-heap
// size seen (runtime/metrics: no stop-the-world, unlike ReadMemStats).
func peakHeap(f func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	return peak.Load()
}

// BenchmarkFullEvaluation: desired state + diff of every user of a
// 100,000-user, 2,000-group snapshot against a matching applied state.
func BenchmarkFullEvaluation(b *testing.B) {
	st := openBench(b)
	c := benchConn()
	seed(b, st, c, 100_000, 2_000, true)
	var peak uint64
	b.ResetTimer()
	for b.Loop() {
		peak = max(peak, peakHeap(func() {
			err := st.View(context.Background(), func(tx *state.Tx) error {
				ev, err := c.evaluate(tx, true)
				if err != nil {
					return err
				}
				if p := c.plan(ev); len(p.Ops) != 0 || len(ev.users) != 100_000 {
					return fmt.Errorf("plan has %d ops over %d users", len(p.Ops), len(ev.users))
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}))
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// nopTarget accepts every op, like a workspace with no latency.
type nopTarget struct{}

func (nopTarget) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	return idsync.Applied{TargetID: op.TargetID}, nil
}

// listSource emits a fixed page of changes on every pull.
type listSource struct{ page func(n int) []idsync.Change }

func (s *listSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	n := 0
	fmt.Sscan(cursor, &n)
	return fmt.Sprint(n + 1), false, emit(s.page(n))
}

// BenchmarkIncrementalRun: a whole engine run (pull of 10 changed users,
// plan, apply 10 updates to an in-memory target) against snapshots of
// 1,000 and 100,000 users. The cost must not grow with the snapshot.
func BenchmarkIncrementalRun(b *testing.B) {
	for _, users := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			st := openBench(b)
			c := benchConn()
			seed(b, st, c, users, 2_000, true)
			c.Target = nopTarget{}
			c.Source = &listSource{page: func(n int) []idsync.Change {
				out := make([]idsync.Change, 10)
				for i := range out {
					out[i] = idsync.UserChange(benchUser((n*10+i)*7%users, fmt.Sprint("title ", n)))
				}
				return out
			}}
			e := New(st, nil)
			b.ResetTimer()
			for b.Loop() {
				res, err := e.Run(context.Background(), c, Options{})
				if err != nil || res.Applied != 10 {
					b.Fatalf("run: %v, applied %d of %q", err, res.Applied, ops(res.Plan))
				}
			}
		})
	}
}

// BenchmarkIngest: user upserts into the snapshot, a page of 1,000 per transaction.
func BenchmarkIngest(b *testing.B) {
	st := openBench(b)
	page := make([]idsync.Change, 1000)
	n := 0
	b.ResetTimer()
	for b.Loop() {
		for i := range page {
			page[i] = idsync.UserChange(benchUser(n, ""))
			n++
		}
		if err := st.Update(context.Background(), func(tx *state.Tx) error { return tx.ApplyChanges("bench", 1, page) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "upserts/s")
}
