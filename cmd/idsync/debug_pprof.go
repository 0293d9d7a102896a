package main

import (
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
)

// mountPprof serves Go's profiles under /debug/pprof/ when the daemon is
// started with IDSYNC_DEBUG_PPROF=1 (hidden: for load benchmarks and
// performance work, never on by default — a profile shows the process's
// internals to whoever reaches http.listen). It also turns on the mutex
// and block profiles, which cost a little on every contended lock.
func mountPprof(mux *http.ServeMux) {
	if os.Getenv("IDSYNC_DEBUG_PPROF") != "1" {
		return
	}
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(100_000) // one sample per 100 µs blocked
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
