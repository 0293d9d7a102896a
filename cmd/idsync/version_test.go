package main

import (
	"strings"
	"testing"
)

// `idsync version` names the version, the commit with its time and a
// modified tree, and the Go version; a binary built without VCS
// information says so instead of printing nothing.
func TestVersionString(t *testing.T) {
	v := buildVersion{Version: "v1.2.3", Commit: "1bdb3d1c1873be66c28aa2a8974fbef571b04b91", Time: "2026-12-03T06:18:57Z", Modified: true, Go: "go1.26.8"}
	lines := strings.Split(v.String(), "\n")
	if len(lines) != 3 || lines[0] != "idsync v1.2.3" ||
		lines[1] != "commit 1bdb3d1c1873be66c28aa2a8974fbef571b04b91 (2026-12-03T06:18:57Z, modified)" ||
		!strings.HasPrefix(lines[2], "go1.26.8 ") {
		t.Fatalf("version:\n%s", v)
	}
	v.Commit = ""
	if s := v.String(); !strings.Contains(s, "commit unknown") {
		t.Fatalf("version without VCS information:\n%s", s)
	}
}

// The packager stamps the version and commit with -ldflags -X; the binary
// prints them (the built one here carries Go's own build info only).
func TestVersionFromLinkerFlags(t *testing.T) {
	saved := []string{version, commit, commitTime, commitModified}
	t.Cleanup(func() { version, commit, commitTime, commitModified = saved[0], saved[1], saved[2], saved[3] })
	version, commit, commitTime, commitModified = "v9.9.9", "abc", "2026-01-01T00:00:00Z", "false"
	if s := readBuildVersion().String(); !strings.HasPrefix(s, "idsync v9.9.9\ncommit abc (2026-01-01T00:00:00Z)\n") {
		t.Fatalf("version:\n%s", s)
	}
	if r := runBinary(t, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "idsync (devel)\ncommit ") {
		t.Fatalf("built binary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
