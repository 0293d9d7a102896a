package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/sync"
)

func syncCmd(g *globals) *cobra.Command {
	var opt sync.Options
	var output string
	var detailed, quiet bool
	cmd := &cobra.Command{
		Use:   "sync [CONNECTION...]",
		Short: "Run one sync now (all connections, or the named ones)",
		Long: `Run one sync of each named connection (default: all): pull changes from the
identity provider, plan what the workspace needs, and apply it.

With --dry-run nothing changes anywhere: the state is only read (a first read is
held in memory, any other pull goes into a private copy of the state that is removed
afterwards), no cursor is advanced, no op is applied, and the plan is printed. A dry
run never waits for, or holds up, the daemon or another sync. A plan whose deletes and disables exceed the connection's safety limits
is held instead of applied: review it, then 'idsync approve CONNECTION'.

Exit status: 0 on success, 1 on error (including ops that failed and wait for the next run). With --detailed-exitcode: 0 no changes,
2 changes (applied, or planned with --dry-run), 3 a plan was held, 1 error.

One process writes the state at a time. While the daemon ('idsync run') is running,
the sync is carried out by the daemon, with the same output and exit status; beside
another sync it stops with an error naming that process.

On a terminal (stdout and stderr) it shows its progress on stderr: pages read
and objects seen while pulling, ops applied of the total with the rate and the
time left while applying. Not with --quiet or --output json, nor when either is
redirected.`,
		Example: `  idsync sync --dry-run
  idsync sync acme --full --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output: must be text or json, not %q", output)
			}
			// Before open: the log then goes through the bar's stderr.
			sink := newProgress(g, output, quiet)
			if sink != nil {
				defer sink.close()
			}
			g.progress, opt.Progress = sink, progressReport(sink)
			open := openWriter
			if opt.DryRun {
				open = func(ctx context.Context, g *globals) (*app, error) { return openApp(ctx, g, true) }
			}
			a, err := open(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer a.close()
			conns, err := a.pick(args)
			if err != nil {
				return err
			}
			var results []syncResult
			var errs []error
			held, changed := false, false
			for _, c := range conns {
				res, err := a.engine.Run(cmd.Context(), c, opt)
				if sink != nil {
					sink.clear()
				}
				if opt.Reconcile && err == nil && res.Reconcile == nil {
					fmt.Fprintf(g.stderr, "%s: its target cannot list the workspace's accounts: nothing was reconciled\n", c.Name)
				}
				r := toResult(c, res, err)
				results = append(results, r)
				switch {
				case err != nil:
					errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
				case r.Failed > 0:
					errs = append(errs, fmt.Errorf("%s: %d ops failed; they are retried on the next run (idsync log --connection %s)", c.Name, r.Failed, c.Name))
				}
				held = held || r.Held != ""
				changed = changed || len(r.Ops) > 0 || r.Resumed > 0
				if output == "text" {
					if len(results) > 1 {
						fmt.Fprintln(g.stdout)
					}
					printPlan(g.stdout, r)
				}
			}
			if output == "json" {
				if err := writeResultsJSON(g.stdout, results); err != nil {
					return err
				}
			}
			switch {
			case len(errs) > 0:
				return &exitCode{code: exitError, err: errors.Join(errs...)}
			case detailed && held:
				return &exitCode{code: exitHeld}
			case detailed && changed:
				return &exitCode{code: exitChanges}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opt.DryRun, "dry-run", false, "print the plan; change nothing (no cursor advanced, nothing applied)")
	f.BoolVar(&opt.Full, "full", false, "re-read the whole directory and evaluate every user (also lists the workspace and corrects drift)")
	f.BoolVar(&opt.Reconcile, "reconcile", false, "list the workspace: correct managed accounts changed or deleted by hand, report unmanaged ones")
	f.StringVarP(&output, "output", "o", "text", "text | json")
	f.BoolVar(&detailed, "detailed-exitcode", false, "exit 0 no changes, 2 changes, 3 held, 1 error")
	f.BoolVarP(&quiet, "quiet", "q", false, "show no progress on the terminal")
	return cmd
}
