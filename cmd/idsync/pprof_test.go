package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// IDSYNC_PPROF leaves the CPU and allocation profiles, the GC figures and
// the memory timeline of the run; the timeline's lines read back as
// numbers, with a resident set on Linux.
func TestProfilesWritten(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "run")
	cmd := execIdsync(filepath.Join(t.TempDir(), "none.yaml"), "--help")
	cmd.Env = append(os.Environ(), profileEnv+"="+prefix)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("idsync --help: %v\n%s", err, out)
	}
	for _, ext := range []string{".cpu.pprof", ".allocs.pprof", ".gc.json", ".rss.tsv"} {
		if _, err := os.Stat(prefix + ext); err != nil {
			t.Errorf("no %s: %v", ext, err)
		}
	}
	b, _ := os.ReadFile(prefix + ".rss.tsv")
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "ms\trss_mb") {
		t.Fatalf("rss.tsv:\n%s", b)
	}
	f := strings.Split(lines[len(lines)-1], "\t")
	rss, err := strconv.ParseFloat(f[1], 64)
	if len(f) != 5 || err != nil || (runtime.GOOS == "linux" && rss <= 0) {
		t.Fatalf("last line %q", lines[len(lines)-1])
	}
}
