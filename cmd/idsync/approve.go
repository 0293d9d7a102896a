package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

func approveCmd(g *globals) *cobra.Command {
	var output, planID string
	var yes, quiet bool
	cmd := &cobra.Command{
		Use:   "approve CONNECTION",
		Short: "Release a plan held by the safety limits",
		Long: `A run whose deletes and disables exceed safety.max_deletes or
safety.max_delete_percent is held: nothing is applied and the plan is stored
with an id. 'idsync status' and the sync output show the id.

On a terminal (stdin and stdout), approve shows the held plan and asks before
going on (--yes skips the question); elsewhere (scripts) it goes on. --plan ID approves only
that plan: if the held plan has changed since it was reviewed, approve refuses.

Approving does not replay the stored ops: it reads the changes since the hold,
plans every user again and applies that plan if each of its disables and
deletes (and group deletes) was in the approved plan; other ops are always
fine. A user restored in the identity provider since the hold is therefore
left alone. If the new plan takes away more than was approved, it is held
under its own id, the new ops are shown, and nothing is applied (exit 3).

On a terminal it shows its progress on stderr, as sync does (not with --quiet
or --output json).`,
		Example: `  idsync approve acme
  idsync approve acme --plan 3f9a0c1b2d4e`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if output != "text" && output != "json" {
				return fmt.Errorf("--output: must be text or json, not %q", output)
			}
			name := args[0]
			if !yes && interactive(g) {
				w := g.stdout
				if output == "json" {
					w = g.stderr // keep stdout JSON only
				}
				id, err := confirmHeld(ctx, g, w, name, planID, os.Stdin)
				if err != nil {
					return err
				}
				// Pin what the person saw, also when the daemon carries it
				// out (g.argv is what is forwarded), and never ask there.
				if planID == "" {
					planID = id
					g.argv = append(g.argv, "--plan", id)
				}
				g.argv = append(g.argv, "--yes")
			}
			sink := newProgress(g, output, quiet)
			if sink != nil {
				defer sink.close()
			}
			g.progress = sink
			a, err := openWriter(ctx, g)
			if err != nil {
				return err
			}
			defer a.close()
			conns, err := a.pick(args)
			if err != nil {
				return err
			}
			c := conns[0]
			res, err := a.engine.Approve(ctx, c, sync.ApproveOptions{PlanID: planID, Progress: progressReport(sink)})
			if sink != nil {
				sink.clear()
			}
			switch {
			case errors.Is(err, sync.ErrNoHeldPlan):
				return fmt.Errorf("%s has no held plan to approve ('idsync status' shows held plans)", c.Name)
			case errors.Is(err, sync.ErrPlanChanged):
				return err
			}
			r := toResult(c, res, err)
			if output == "json" {
				writeJSON(g.stdout, r)
			} else {
				printPlan(g.stdout, r)
			}
			if err == nil && r.Held != "" {
				return &exitCode{code: exitHeld, err: fmt.Errorf("%s: nothing was applied: the new plan %s takes away more than was approved; review it and approve again",
					c.Name, r.PlanID)}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&planID, "plan", "", "approve only the held plan with this id (refuse if it has changed)")
	f.BoolVarP(&yes, "yes", "y", false, "do not show the plan and ask first on a terminal")
	f.StringVarP(&output, "output", "o", "text", "text | json")
	f.BoolVarP(&quiet, "quiet", "q", false, "show no progress on the terminal")
	return cmd
}

// interactive reports whether a person is there to be asked: stdin and our
// stdout are both terminals. A command the daemon carries out for the CLI
// writes to the control socket, so it never asks.
func interactive(g *globals) bool {
	out, ok := g.stdout.(*os.File)
	return ok && term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(out.Fd()))
}

// confirmHeld shows the connection's held plan (read-only) on w and asks
// whether to apply it. It returns the id of the plan the person said yes to.
func confirmHeld(ctx context.Context, g *globals, w io.Writer, name, pinned string, in io.Reader) (string, error) {
	a, err := openApp(ctx, g, false)
	if err != nil {
		return "", err
	}
	defer a.close()
	var source string
	for _, cc := range a.cfg.Connections {
		if cc.Name == name {
			source = cc.Source.Type
		}
	}
	if source == "" {
		return "", fmt.Errorf("no connection %q in the config (have: %s)", name, strings.Join(a.names(), ", "))
	}
	var held *state.HeldPlan
	if err := a.store.View(ctx, func(tx *state.Tx) (err error) {
		held, err = tx.Held(name)
		return err
	}); err != nil {
		return "", err
	}
	if held == nil {
		return "", fmt.Errorf("%s has no held plan to approve ('idsync status' shows held plans)", name)
	}
	if pinned != "" && pinned != held.ID {
		return "", fmt.Errorf("%s: %w: plan %s was approved but the held plan is now %s; review it ('idsync approve %s' shows it) and approve that id",
			name, sync.ErrPlanChanged, pinned, held.ID, name)
	}
	ok, err := ask(w, in, heldResult(name, source, held), held.HeldAt)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &exitCode{code: exitError, err: fmt.Errorf("%s: not approved; nothing was applied", name)}
	}
	return held.ID, nil
}

// heldResult renders a held plan the way sync prints plans.
func heldResult(conn, source string, h *state.HeldPlan) syncResult {
	r := syncResult{Connection: conn, Source: source, RunID: h.RunID, Counts: h.Plan.Counts(), Ops: h.Plan.Ops, Held: h.Reason, PlanID: h.ID}
	if r.Ops == nil {
		r.Ops = []idsync.Op{}
	}
	return r
}

// ask prints the held plan and "Apply this plan? [y/N]" and reads the
// answer: only y or yes (any case) is a yes.
func ask(w io.Writer, in io.Reader, r syncResult, at time.Time) (bool, error) {
	printOps(w, r)
	fmt.Fprintf(w, "  held since %s: %s\n  plan %s\nApply this plan? [y/N] ", at.Local().Format(time.DateTime), r.Held, r.PlanID)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
