package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/sync"
)

func approveCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "approve CONNECTION",
		Short: "Release a plan held by the safety limits and apply it now",
		Long: `A run whose deletes and disables exceed safety.max_deletes or
safety.max_delete_percent is held: nothing is applied and the plan is stored.
'idsync status' shows it; review it there or with 'idsync sync --dry-run', then
approve it here. Its ops are applied at once, whatever the limits say.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openWriter(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer a.close()
			conns, err := a.pick(args)
			if err != nil {
				return err
			}
			c := conns[0]
			res, err := a.engine.Approve(cmd.Context(), c)
			if errors.Is(err, sync.ErrNoHeldPlan) {
				return fmt.Errorf("%s has no held plan to approve ('idsync status' shows held plans)", c.Name)
			}
			r := toResult(c, res, err)
			if output == "json" {
				writeJSON(g.stdout, r)
			} else {
				printPlan(g.stdout, r)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text | json")
	return cmd
}
