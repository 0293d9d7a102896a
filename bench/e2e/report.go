package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// report holds every measurement of a run of the benchmark.
type report struct {
	IdP     string                `json:"idp"`
	Users   int                   `json:"users"`
	Groups  int                   `json:"groups"`
	Runs    int                   `json:"runs"`
	Samples map[string][]measured `json:"samples"`
	// Incremental (with -incremental): wall times of the 10-change runs by
	// snapshot size, and the full syncs that built the snapshots.
	Incremental map[int][]time.Duration `json:"incremental_ns,omitempty"`
	FullSync    map[int]time.Duration   `json:"full_sync_ns,omitempty"`
}

func (r *report) add(step string, m measured, logw io.Writer) {
	r.Samples[step] = append(r.Samples[step], m)
	fmt.Fprintf(logw, "  %-15s %8.3f s  %6.0f MB  %5d requests  %d bytes out\n", step, m.Wall.Seconds(), m.PeakRSS, m.Requests, m.Bytes)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// per applies f to each repetition that has both steps.
func (r *report) per(a, b string, f func(x, y measured) float64) []float64 {
	var out []float64
	for i := range min(len(r.Samples[a]), len(r.Samples[b])) {
		out = append(out, f(r.Samples[a][i], r.Samples[b][i]))
	}
	return out
}

func (r *report) col(step string, f func(measured) float64) float64 {
	var xs []float64
	for _, m := range r.Samples[step] {
		xs = append(xs, f(m))
	}
	return median(xs)
}

func wallRatio(x, y measured) float64 { return x.Wall.Seconds() / y.Wall.Seconds() }

func (r *report) print(w io.Writer) {
	if r.Incremental != nil {
		r.printIncremental(w)
		return
	}
	fmt.Fprintf(w, "%s: %d users, %d groups; median of %d runs; ratio = wall time / the bare read's in the same run\n",
		r.IdP, r.Users, r.Groups, r.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\twall s\tratio\tpeak RSS MB\trequests\toutput MB\t")
	for _, step := range []string{stepBare, stepDryText, stepDryJSON, stepReal} {
		if len(r.Samples[step]) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.2f\t%.0f\t%.0f\t%.1f\t\n", step,
			r.col(step, func(m measured) float64 { return m.Wall.Seconds() }),
			median(r.per(step, stepBare, wallRatio)),
			r.col(step, func(m measured) float64 { return m.PeakRSS }),
			r.col(step, func(m measured) float64 { return float64(m.Requests) }),
			r.col(step, func(m measured) float64 { return float64(m.Bytes) / (1 << 20) }))
	}
	tw.Flush()
	if len(r.Samples[stepDryJSON]) > 0 {
		fmt.Fprintf(w, "--output json vs text: %+.1f%% wall, %+.0f MB peak RSS (medians of per-run differences)\n",
			100*(median(r.per(stepDryJSON, stepDryText, wallRatio))-1),
			median(r.per(stepDryJSON, stepDryText, func(x, y measured) float64 { return x.PeakRSS - y.PeakRSS })))
	}
	if len(r.Samples[stepReal]) > 0 {
		fmt.Fprintf(w, "real first sync, pull and plan until the first workspace write: %.2f× the text dry run\n",
			median(r.per(stepReal, stepDryText, wallRatio)))
	}
	if bare := r.col(stepBare, func(m measured) float64 { return float64(m.Requests) }); bare > 0 {
		fmt.Fprintf(w, "requests: dry run %.0f vs bare read %.0f (%+.1f%%)\n", r.col(stepDryText, func(m measured) float64 { return float64(m.Requests) }), bare,
			100*(r.col(stepDryText, func(m measured) float64 { return float64(m.Requests) })/bare-1))
	}
}

func (r *report) printIncremental(w io.Writer) {
	sizes := make([]int, 0, len(r.Incremental))
	for n := range r.Incremental {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	fmt.Fprintf(w, "%s: 10-change incremental `idsync sync` (a process: start, pull, plan, apply to scimtest, exit)\n", r.IdP)
	var meds []float64
	for _, n := range sizes {
		var xs []float64
		for _, d := range r.Incremental[n] {
			xs = append(xs, float64(d.Microseconds())/1000)
		}
		m := median(xs)
		meds = append(meds, m)
		fmt.Fprintf(w, "  snapshot of %7d users: median %.1f ms over %d runs (min %.1f, max %.1f); full sync to build it %.1f s\n",
			n, m, len(xs), slices.Min(xs), slices.Max(xs), r.FullSync[n].Seconds())
	}
	if len(meds) == 2 && meds[0] > 0 {
		fmt.Fprintf(w, "  ratio large/small: %.2f\n", meds[1]/meds[0])
	}
}
