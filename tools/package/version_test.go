package main

import (
	"testing"
	"time"
)

// Debian versions must start with a digit and sort as the tags do.
func TestDebVersion(t *testing.T) {
	at := time.Date(2026, 12, 3, 6, 18, 57, 0, time.UTC)
	const commit = "1bdb3d1c1873be66c28aa2a8974fbef571b04b91"
	for _, c := range []struct {
		described    string
		modified     bool
		version, deb string
	}{
		{"v1.2.3", false, "v1.2.3", "1.2.3"},
		{"v1.2.3-4-g1bdb3d1", false, "v1.2.3-4-g1bdb3d1", "1.2.3+4.g1bdb3d1"},
		{"v1.2.3", true, "v1.2.3-dirty", "1.2.3+dirty"},
		{"v1.2.3-rc1-2-gabcdef0", true, "v1.2.3-rc1-2-gabcdef0-dirty", "1.2.3~rc1+2.gabcdef0.dirty"},
		{"", false, "v0.0.0-20261203061857-1bdb3d1c1873", "0.0.0+git20261203061857.1bdb3d1c1873"},
		{"nonsense", true, "v0.0.0-20261203061857-1bdb3d1c1873-dirty", "0.0.0+git20261203061857.1bdb3d1c1873.dirty"},
	} {
		v, d := debVersion(c.described, commit, at, c.modified)
		if v != c.version || d != c.deb {
			t.Errorf("debVersion(%q, modified=%v) = %q, %q; want %q, %q", c.described, c.modified, v, d, c.version, c.deb)
		}
	}
}
