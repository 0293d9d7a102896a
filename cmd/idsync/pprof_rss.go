package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"time"
)

// rssEvery is how often startRSSLog samples the process's memory.
const rssEvery = 10 * time.Millisecond

// startRSSLog writes, every rssEvery until stop, one line of the process's
// memory to path: milliseconds since the start, VmRSS, the Go heap's live
// and garbage objects, its GC goal and what Go has mapped (MB). The peak
// RSS alone does not say when it happened; this says which phase holds it
// (profileEnv: <prefix>.rss.tsv). Linux only: elsewhere VmRSS reads 0.
func startRSSLog(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "ms\trss_mb\theap_objects_mb\theap_goal_mb\tgo_mapped_mb")
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/goal:bytes"},
		{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	start := time.Now()
	line := func() {
		metrics.Read(samples)
		mb := func(i int) float64 { return float64(samples[i].Value.Uint64()) / (1 << 20) }
		fmt.Fprintf(w, "%d\t%.0f\t%.0f\t%.0f\t%.0f\n", time.Since(start).Milliseconds(), vmRSS(),
			mb(0), mb(1), mb(2)-mb(3))
		w.Flush() // a run killed at any point leaves its lines
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(rssEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				line()
				return
			case <-t.C:
				line()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		f.Close()
	}, nil
}

// vmRSS is the process's resident set in MB, from /proc/self/status.
func vmRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(b, []byte("VmRSS:"))
	if !ok {
		return 0
	}
	field, _, _ := bytes.Cut(bytes.TrimSpace(rest), []byte(" "))
	kb, _ := strconv.ParseFloat(string(field), 64)
	return kb / 1024
}
