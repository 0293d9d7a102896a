// Command e2e measures what `idsync sync` costs the way a user runs it:
// the built binary in its own process, the IdP emulator (entratest,
// oktatest) in another, the workspace (scimtest) in a third, and the plan
// printed to a file. In the same run, for each repetition, it times
//
//	(a) bare:     a plain net/http + encoding/json process reading the same pages
//	(b) dry-text: idsync sync --dry-run (text plan to a file), empty state
//	(c) dry-json: the same with --output json
//	(d) real:     a real first sync, from start until the workspace receives its
//	              first write (pull, plan and outbox done; the run is then killed)
//
// and reports the median wall time, its ratio to (a) within each
// repetition, peak RSS (getrusage) and the API requests the emulator
// answered. With -incremental it instead syncs a tenant for real and times
// 10-change incremental runs on a small and on the full-size snapshot.
//
//	go run ./bench/e2e -idp entra -users 100000 -runs 3
//	go run ./bench/e2e -idp okta -users 100000 -runs 3
//	go run ./bench/e2e -idp entra -users 100000 -incremental
//	go run ./bench/e2e -idp entra -users 100000 -runs 1 -pprof /tmp/prof   # CPU and heap profiles of (b) and (c)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if runChild() {
		return
	}
	var o options
	flag.StringVar(&o.IdP, "idp", "entra", "entra | okta")
	flag.IntVar(&o.Users, "users", 100_000, "users in the tenant")
	flag.IntVar(&o.Groups, "groups", 1_000, "groups in the tenant")
	flag.IntVar(&o.Runs, "runs", 3, "repetitions (medians are reported)")
	flag.BoolVar(&o.Incremental, "incremental", false, "time 10-change incremental runs on a -small and a -users snapshot instead")
	flag.IntVar(&o.Small, "small", 1_000, "users of the small snapshot (-incremental)")
	flag.IntVar(&o.Rounds, "rounds", 7, "incremental runs per snapshot (-incremental)")
	flag.StringVar(&o.Binary, "binary", "", "idsync binary (default: build ./cmd/idsync)")
	flag.StringVar(&o.Dir, "dir", "", "work directory, kept (default: a temporary one, removed)")
	flag.StringVar(&o.Pprof, "pprof", "", "directory for CPU and heap profiles of the dry runs (IDSYNC_PPROF)")
	flag.StringVar(&o.Only, "only", "", "run only this step: bare, dry-text, dry-json or real-pull-plan (with -pprof)")
	flag.BoolVar(&o.Verbose, "v", false, "print each measurement")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var logw io.Writer = io.Discard
	if o.Verbose {
		logw = os.Stderr
	}
	rep, err := bench(ctx, o, logw)
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			rep.print(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}
