package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// profileEnv names a path prefix: when set, the process writes a CPU
// profile (<prefix>.cpu.pprof) of its whole run, an allocation profile
// (<prefix>.allocs.pprof: every allocation sampled, and what is live at the
// end), its GC figures (<prefix>.gc.json) and its memory every 10 ms
// (<prefix>.rss.tsv, startRSSLog). For measuring idsync as a
// user runs it (go run ./bench/e2e -pprof DIR); not a documented setting.
const profileEnv = "IDSYNC_PPROF"

// startProfiles starts what profileEnv asks for and returns the function
// that writes it out. Failures are reported on stderr and never fail the
// command.
func startProfiles() (stop func()) {
	prefix := os.Getenv(profileEnv)
	if prefix == "" {
		return func() {}
	}
	start := time.Now()
	warn := func(err error) { fmt.Fprintf(os.Stderr, "idsync: %s: %v\n", profileEnv, err) }
	cpu, err := os.Create(prefix + ".cpu.pprof")
	if err != nil {
		warn(err)
	} else if err := pprof.StartCPUProfile(cpu); err != nil {
		warn(err)
		cpu.Close()
		cpu = nil
	}
	stopRSS, err := startRSSLog(prefix + ".rss.tsv")
	if err != nil {
		warn(err)
		stopRSS = func() {}
	}
	return func() {
		stopRSS()
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		gc, _ := json.MarshalIndent(map[string]any{
			"wall_s": time.Since(start).Seconds(), "num_gc": ms.NumGC, "gc_pause_total_s": float64(ms.PauseTotalNs) / 1e9,
			"gc_cpu_fraction": ms.GCCPUFraction, "total_alloc_mb": float64(ms.TotalAlloc) / (1 << 20),
			"heap_sys_mb": float64(ms.HeapSys) / (1 << 20), "sys_mb": float64(ms.Sys) / (1 << 20), "mallocs": ms.Mallocs,
		}, "", "  ")
		if err := os.WriteFile(prefix+".gc.json", gc, 0o600); err != nil {
			warn(err)
		}
		f, err := os.Create(prefix + ".allocs.pprof")
		if err != nil {
			warn(err)
			return
		}
		defer f.Close()
		runtime.GC() // the profile holds what the last GC published: include the end of the run
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			warn(err)
		}
	}
}
