package bench

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// openStore opens a fresh SQLite state file in a temp dir, as `idsync`
// does with state.path — or, with IDSYNC_BENCH_POSTGRES=1, a fresh schema
// of the PostgreSQL cluster in IDSYNC_TEST_POSTGRES (benchLoc).
func openStore(b *testing.B) *state.Store {
	b.Helper()
	st, err := state.Open(context.Background(), benchLoc(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// workspace starts scimtest and a scim target for it, configured as a user
// would for a loopback workspace with no rate limit.
func workspace(b *testing.B) (*scimtest.Server, *scim.Client) {
	b.Helper()
	ws := scimtest.NewServer(scimtest.Options{Token: "ws-token"})
	b.Cleanup(ws.Close)
	tgt, err := scim.New(scim.Config{URL: ws.URL, Token: "ws-token", RateLimit: scim.Rate(0)})
	if err != nil {
		b.Fatal(err)
	}
	return ws, tgt
}

func policy() sync.Policy {
	return sync.Policy{DefaultRole: "reader", Deprovision: sync.DefaultDeprovision}
}

// resetPeakRSS starts a new VmHWM measurement (Linux: writing 5 to
// clear_refs resets the peak resident set size to the current RSS).
func resetPeakRSS() {
	runtime.GC()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// rssMB reads a /proc/self/status field (VmHWM, VmRSS) in MiB.
func rssMB(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
