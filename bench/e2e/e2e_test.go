package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary be the benchmark's children too.
func TestMain(m *testing.M) {
	if runChild() {
		return
	}
	os.Exit(m.Run())
}

// TestSmoke runs the harness on a small tenant of each IdP: every step
// measured, the plans written, idsync's requests within 2% of the bare
// read's for Okta, and a 10-change incremental run applying 10 ops.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds idsync and runs it a dozen times")
	}
	dir := t.TempDir()
	bin := dir + "/idsync"
	for _, idp := range []string{"entra", "okta"} {
		t.Run(idp, func(t *testing.T) {
			o := options{IdP: idp, Users: 2000, Groups: 20, Runs: 1, Dir: t.TempDir()}
			if _, err := os.Stat(bin); err == nil {
				o.Binary = bin
			}
			rep, err := bench(context.Background(), o, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if o.Binary == "" {
				_ = os.Rename(o.Dir+"/idsync", bin)
			}
			for _, step := range []string{stepBare, stepDryText, stepDryJSON, stepReal} {
				ms := rep.Samples[step]
				if len(ms) != 1 || ms[0].Wall <= 0 || ms[0].PeakRSS <= 0 || ms[0].Requests <= 0 {
					t.Errorf("%s: %+v", step, ms)
				}
			}
			plan, err := os.ReadFile(o.Dir + "/plan.txt")
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(plan), "+ create"); n < 1900 {
				t.Errorf("text plan has %d creates, want about 2,000:\n%.500s", n, plan)
			}
			bare, dry := rep.Samples[stepBare][0].Requests, rep.Samples[stepDryText][0].Requests
			if idp == "okta" && float64(dry) > float64(bare)*1.02 {
				t.Errorf("okta dry run made %d requests, bare read %d: over 2%% more", dry, bare)
			}
			var sb strings.Builder
			rep.print(&sb)
			t.Log("\n" + sb.String())
		})
	}
	t.Run("incremental", func(t *testing.T) {
		o := options{IdP: "entra", Users: 600, Small: 300, Groups: 20, Rounds: 2, Incremental: true, Dir: t.TempDir(), Binary: bin}
		rep, err := bench(context.Background(), o, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Incremental[300]) != 2 || len(rep.Incremental[600]) != 2 {
			t.Errorf("incremental runs: %v", rep.Incremental)
		}
	})
}
