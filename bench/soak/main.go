// Command soak is idsync's crash soak: it runs the built idsync binary
// against an emulated Entra tenant and SCIM workspace (both served by this
// process, so idsync talks to them over loopback HTTPS as to real ones),
// changes the tenant between runs, SIGKILLs idsync at seeded random points
// of its runs (pull, plan and apply), and after the last kill lets one run
// finish. Then the workspace must equal what the tenant says, exactly:
// no duplicate account, no lost change, an empty outbox, and a full
// re-read that plans nothing.
//
//	go run ./bench/soak                       # 50 kills, 3,000 users, seed 1
//	go run ./bench/soak -kills 200 -seed 7 -users 5000 -json
//
// It exits 1 when the final state is wrong, printing what differs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var c options
	flag.IntVar(&c.Kills, "kills", 50, "SIGKILLs to deliver")
	flag.IntVar(&c.Users, "users", 3000, "users in the tenant at the start")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed of every random choice (changes, kill points, --full runs)")
	flag.IntVar(&c.Changes, "changes", 0, "tenant changes between runs (default: 1% of -users)")
	flag.StringVar(&c.Binary, "binary", "", "idsync binary to test (default: build ./cmd/idsync)")
	flag.StringVar(&c.Dir, "dir", "", "directory for the config and state (default: a temporary one, removed)")
	flag.BoolVar(&c.Verbose, "v", false, "log every run")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := soak(ctx, c, os.Stderr)
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else {
			rep.print(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}
