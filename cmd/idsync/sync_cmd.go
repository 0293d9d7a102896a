package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/sync"
)

func syncCmd(g *globals) *cobra.Command {
	var opt sync.Options
	var output string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "sync [CONNECTION...]",
		Short: "Run one sync now (all connections, or the named ones)",
		Long: `Run one sync of each named connection (default: all): pull changes from the
identity provider, plan what the workspace needs, and apply it.

With --dry-run nothing changes anywhere: the pull happens in a transaction that is
rolled back (no cursor advanced, no snapshot changed), no op is applied, and the plan
is printed. A plan whose deletes and disables exceed the connection's safety limits
is held instead of applied: review it, then 'idsync approve CONNECTION'.

Exit status: 0 on success, 1 on error (including ops that failed and wait for the next run). With --detailed-exitcode: 0 no changes,
2 changes (applied, or planned with --dry-run), 3 a plan was held, 1 error.`,
		Example: `  idsync sync --dry-run
  idsync sync acme --full --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output: must be text or json, not %q", output)
			}
			a, err := openApp(cmd.Context(), g, true)
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
				if err := writeJSON(g.stdout, map[string]any{"results": results}); err != nil {
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
	f.BoolVar(&opt.Full, "full", false, "re-read the whole directory and evaluate every user")
	f.StringVarP(&output, "output", "o", "text", "text | json")
	f.BoolVar(&detailed, "detailed-exitcode", false, "exit 0 no changes, 2 changes, 3 held, 1 error")
	return cmd
}
