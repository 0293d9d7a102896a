package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/state"
)

func logCmd(g *globals) *cobra.Command {
	var f state.Filter
	var since, output string
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Show the provisioning log: every op applied or failed",
		Example: `  idsync log --connection acme --since 24h
  idsync log --user alice@acme.test --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if since != "" {
				if d, err := time.ParseDuration(since); err == nil {
					f.Since = time.Now().Add(-d)
				} else if t, err := time.Parse(time.RFC3339, since); err == nil {
					f.Since = t
				} else if t, err := time.ParseInLocation(time.DateOnly, since, time.Local); err == nil {
					f.Since = t
				} else {
					return fmt.Errorf("--since: want a duration (24h), a date (2026-11-01) or an RFC 3339 time, not %q", since)
				}
			}
			a, err := openApp(cmd.Context(), g, false)
			if err != nil {
				return err
			}
			defer a.close()
			var events []state.Event
			if err := a.store.View(cmd.Context(), func(tx *state.Tx) (err error) {
				events, err = tx.Events(f)
				return err
			}); err != nil {
				return err
			}
			if output == "json" {
				if events == nil {
					events = []state.Event{}
				}
				return writeJSON(g.stdout, map[string]any{"events": events})
			}
			for _, e := range events {
				fmt.Fprintf(g.stdout, "%s  %-10s run %-5d %-13s %-8s %-28s %s\n", e.At.Local().Format(time.DateTime), e.Connection, e.RunID,
					e.Kind, e.Result, shown(e.Name), shown(e.Detail))
			}
			if len(events) == 0 {
				fmt.Fprintln(g.stderr, "no events match")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Connection, "connection", "", "only this connection")
	fl.StringVar(&f.User, "user", "", "only this user (IdP id or userName)")
	fl.StringVar(&since, "since", "", "only events since (24h, 2026-11-01, RFC 3339)")
	fl.IntVarP(&f.Limit, "limit", "n", 200, "at most this many of the latest events (0 = all)")
	fl.StringVarP(&output, "output", "o", "text", "text | json")
	return cmd
}
