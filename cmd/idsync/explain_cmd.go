package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func explainCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "explain CONNECTION USER",
		Short: "Say why a user is in or out of scope, which role rule matched, and their last ops",
		Long: `Explain one user from the connection's snapshot (as of the last pull): scope,
groups, app roles, the role rule that matched, what idsync wants for the account,
what it last applied, and the provisioning log for the user. USER is the IdP id,
the userName or the email.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd.Context(), g, false) // the snapshot only: no backend, no secret
			if err != nil {
				return err
			}
			defer a.close()
			conns, err := a.pick(args[:1])
			if err != nil {
				return err
			}
			x, err := a.engine.Explain(cmd.Context(), conns[0], args[1])
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(g.stdout, x)
			}
			w := g.stdout
			if x.User != nil {
				fmt.Fprintf(w, "user      %s (%s), %s", shown(x.User.UserName), shown(x.User.ID), x.User.Status)
				if x.User.Removed != "" {
					fmt.Fprintf(w, ", removed: %s", x.User.Removed)
				}
				fmt.Fprintln(w)
			} else {
				fmt.Fprintln(w, "user      not in the snapshot (deleted in the IdP)")
			}
			fmt.Fprintf(w, "scope     %v — %s\n", yesNo(x.InScope), shown(x.Scope))
			fmt.Fprintf(w, "groups    %s\n", orNone(strings.Join(shownAll(x.Groups), ", ")))
			if len(x.AppRoles) > 0 {
				fmt.Fprintf(w, "app roles %s\n", strings.Join(shownAll(x.AppRoles), ", "))
			}
			if len(x.Teams) > 0 {
				// In the order first applied: the first is the primary team.
				teams := shownAll(x.Teams)
				fmt.Fprintf(w, "teams     %s (primary)%s\n", teams[0], strings.TrimPrefix(strings.Join(teams, ", "), teams[0]))
			}
			fmt.Fprintf(w, "role      %s\n", shown(x.Rule))
			fmt.Fprintf(w, "decision  %s\n", shown(x.Decision))
			if x.Applied != nil {
				state := "active"
				if !x.Applied.Active {
					state = "disabled"
				}
				fmt.Fprintf(w, "applied   %s, role %s, workspace id %s\n", state, shown(orNone(x.Applied.Role)), shown(x.TargetID))
			} else {
				fmt.Fprintln(w, "applied   no account in the workspace (as far as idsync applied)")
			}
			for _, op := range x.Pending {
				_, word, detail := describeOp(op)
				fmt.Fprintf(w, "next run  %s %s\n", word, detail)
			}
			for _, e := range x.Events {
				fmt.Fprintf(w, "log       %s  %-8s %-8s %s\n", e.At.Format("2006-01-02 15:04:05"), e.Kind, e.Result, shown(e.Detail))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text | json")
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "in"
	}
	return "out"
}
