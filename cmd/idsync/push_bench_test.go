package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"
)

// The push listener's load benchmark: the built daemon in its own process,
// with one push connection in front of an emulated workspace (the whole
// pipeline runs: every write is in the snapshot and triggers runs that
// apply it), and a load generator in this process, on loopback.
//
//	go test ./cmd/idsync -run '^$' -bench BenchmarkPushListener -benchtime 1x
//
// (a) closed loop: 200 connections, each sending its next request when the
// previous one is answered, 70% GET by filter (userName eq), 20% GET by id,
// 10% PATCH (Entra's replace of title): the most requests/s sustained.
// (b) open loop: 5,000 GET-by-filter/s plus 1,000 PATCH/s offered on a
// fixed schedule whatever the answers: p99 latency and the share answered
// (an answer later than 1 s, or none, counts as not answered).
//
// IDSYNC_BENCH_SECONDS sets each phase's length (default 10).

const benchUsers = 2000

type pushBench struct {
	b      *testing.B
	p      *pushE2E
	token  string
	ids    []string
	names  []string
	client *http.Client
	cmu    stdsync.Mutex
	codes  map[int]int
}

func newPushBench(b *testing.B) *pushBench {
	pb := &pushBench{b: b}
	p := newPushE2EFor(b, "    safety: {max_deletes: 0, max_delete_percent: 0}\n", "source: {type: scim, rate_limit: 0, max_concurrent: 512, debounce: 2s}", "      rate_limit: 0\n      concurrency: 8\n", "bench")
	if os.Getenv("IDSYNC_BENCH_PPROF") != "" {
		b.Setenv("IDSYNC_DEBUG_PPROF", "1") // the daemon inherits it (pprof.go)
	}
	p.start()
	pb.p = p
	pb.token = p.token("bench")
	// At most 256 connections: a generator that opened one per late request
	// would measure its own connection storm. Requests waiting for a
	// connection count from their scheduled time all the same.
	pb.client = &http.Client{Timeout: time.Second, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	// Seed the users, 16 at a time.
	pb.ids, pb.names = make([]string, benchUsers), make([]string, benchUsers)
	defer pb.takeCodes()
	var wg stdsync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range benchUsers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name := fmt.Sprintf("user%05d@bench.test", i)
			code, body := pb.do("POST", "/Users", entraUser(name, fmt.Sprintf("ext-%d", i)))
			if code != http.StatusCreated {
				b.Errorf("seed %s: %d", name, code)
				return
			}
			var r struct{ ID string }
			json.Unmarshal(body, &r)
			pb.ids[i], pb.names[i] = r.ID, name
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	// Measure once the engine has applied the seed: a phase measures the
	// listener beside its own writes' runs, not a first sync's backlog.
	deadline := time.Now().Add(5 * time.Minute)
	for len(p.ws["bench"].Users()) < benchUsers {
		if time.Now().After(deadline) {
			b.Fatalf("the workspace has %d of %d seeded users after 5 minutes", len(p.ws["bench"].Users()), benchUsers)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return pb
}

func (pb *pushBench) do(method, path, body string) (int, []byte) {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, _ := http.NewRequest(method, "http://"+pb.p.listen+"/scim/v2/bench"+path, rd)
	req.Header.Set("Authorization", "Bearer "+pb.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := pb.client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

type op int

const (
	opFilter op = iota
	opGet
	opPatch
)

// request sends one request of kind k on a random user; ok is a 2xx.
func (pb *pushBench) request(k op, rng *rand.Rand) bool {
	code := pb.send(k, rng)
	pb.cmu.Lock()
	if pb.codes == nil {
		pb.codes = map[int]int{}
	}
	pb.codes[code]++
	pb.cmu.Unlock()
	return code >= 200 && code < 300
}

// takeCodes returns the answers' status codes counted since the last call
// (0: no answer).
func (pb *pushBench) takeCodes() map[int]int {
	pb.cmu.Lock()
	defer pb.cmu.Unlock()
	c := pb.codes
	pb.codes = nil
	return c
}

func (pb *pushBench) send(k op, rng *rand.Rand) int {
	i := rng.IntN(len(pb.ids))
	var code int
	switch k {
	case opFilter:
		code, _ = pb.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+pb.names[i]+`"`)+"&startIndex=1&count=100", "")
	case opGet:
		code, _ = pb.do("GET", "/Users/"+pb.ids[i], "")
	case opPatch:
		code, _ = pb.do("PATCH", "/Users/"+pb.ids[i], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"title","value":"Title `+strconv.Itoa(rng.IntN(1000))+`"}]}`)
	}
	return code
}

func benchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("IDSYNC_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 10 * time.Second
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// Each phase has a daemon of its own: the first one's writes leave the
// engine a backlog to apply.
func BenchmarkPushListener(b *testing.B) {
	b.Run("closed-200", func(b *testing.B) { newPushBench(b).closedLoop(b, 200, benchSeconds()) })
	b.Run("open-5000r-1000w", func(b *testing.B) { newPushBench(b).openLoop(b, 5000, 1000, benchSeconds()) })
}

func (pb *pushBench) closedLoop(b *testing.B, conns int, d time.Duration) {
	var done, failed atomic.Int64
	lat := make([][]time.Duration, conns)
	stop := time.Now().Add(d)
	start := time.Now()
	var wg stdsync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for time.Now().Before(stop) {
				k := opFilter
				switch x := rng.IntN(100); {
				case x >= 90:
					k = opPatch
				case x >= 70:
					k = opGet
				}
				t0 := time.Now()
				if pb.request(k, rng) {
					done.Add(1)
				} else {
					failed.Add(1)
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	all := slices.Concat(lat...)
	b.ReportMetric(float64(done.Load())/el.Seconds(), "req/s")
	b.ReportMetric(float64(failed.Load()), "failed")
	b.Logf("answers by status (0: none): %v", pb.takeCodes())
	b.ReportMetric(float64(percentile(all, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds())/1000, "p99-ms")
}

// openLoop offers reads/s GET-by-filter and writes/s PATCH on a fixed
// schedule, each request on its own goroutine.
func (pb *pushBench) openLoop(b *testing.B, reads, writes int, d time.Duration) {
	total := int(d.Seconds()) * (reads + writes)
	lat := make([]time.Duration, total)
	answered := make([]bool, total)
	write := make([]bool, total)
	interval := time.Second / time.Duration(reads+writes)
	profiled := pb.profile(b, d)
	start := time.Now()
	var wg stdsync.WaitGroup
	var lag time.Duration // the generator's worst lateness against its schedule
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		} else {
			lag = max(lag, -w)
		}
		k := opFilter
		if rng.IntN(reads+writes) < writes {
			k, write[i] = opPatch, true
		}
		seed := rng.Uint64()
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, 3))
			ok := pb.request(k, r)
			// From the scheduled time, not the send: a generator that fell
			// behind counts against the result (no coordinated omission).
			lat[i], answered[i] = time.Since(at), ok
		})
	}
	wg.Wait()
	el := time.Since(start)
	<-profiled
	n := 0
	var got, gotReads, gotWrites []time.Duration
	for i := range total {
		if answered[i] && lat[i] <= time.Second {
			n++
			got = append(got, lat[i])
			if write[i] {
				gotWrites = append(gotWrites, lat[i])
			} else {
				gotReads = append(gotReads, lat[i])
			}
		}
	}
	b.ReportMetric(float64(percentile(gotReads, 0.99).Microseconds())/1000, "p99-read-ms")
	b.ReportMetric(float64(percentile(gotWrites, 0.99).Microseconds())/1000, "p99-write-ms")
	// Unanswered requests count as the slowest.
	all := slices.Clone(got)
	for range total - n {
		all = append(all, time.Hour)
	}
	b.Logf("answers by status (0: none): %v", pb.takeCodes())
	b.ReportMetric(float64(total)/el.Seconds(), "offered/s")
	b.ReportMetric(float64(lag.Microseconds())/1000, "gen-lag-ms")
	b.ReportMetric(100*float64(n)/float64(total), "answered-%")
	b.ReportMetric(float64(percentile(got, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds())/1000, "p99-ms")
}

// profile fetches the daemon's CPU, mutex and block profiles over the
// phase's middle into IDSYNC_BENCH_PPROF (a directory) when
// set; the channel closes when done.
func (pb *pushBench) profile(b *testing.B, d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	dir := os.Getenv("IDSYNC_BENCH_PPROF")
	if dir == "" {
		close(done)
		return done
	}
	base := "http://" + pb.p.listen + "/debug/pprof/"
	save := func(name, path string) {
		resp, err := http.Get(base + path)
		if err != nil {
			b.Logf("profile %s: %v", name, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(dir + "/" + name)
		if err != nil {
			b.Logf("profile %s: %v", name, err)
			return
		}
		defer f.Close()
		io.Copy(f, resp.Body)
	}
	go func() {
		defer close(done)
		secs := strconv.Itoa(max(1, int(d.Seconds())-2))
		time.Sleep(time.Second)
		// All three over the same seconds; the mutex and block profiles as
		// deltas, not everything since the daemon started (the seeding).
		var wg stdsync.WaitGroup
		wg.Go(func() { save("cpu.pprof", "profile?seconds="+secs) })
		wg.Go(func() { save("mutex.pprof", "mutex?seconds="+secs) })
		wg.Go(func() { save("block.pprof", "block?seconds="+secs) })
		wg.Wait()
	}()
	return done
}
