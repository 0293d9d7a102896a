package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sync"
)

// syncResult is one connection's outcome as `sync --output json` prints it.
// Field names are a stable interface for scripts.
type syncResult struct {
	Connection    string          `json:"connection"`
	Source        string          `json:"source"`
	DryRun        bool            `json:"dry_run"`
	Full          bool            `json:"full"`
	RunID         int64           `json:"run_id,omitempty"`
	Counts        idsync.Counts   `json:"counts"`
	Ops           []idsync.Op     `json:"ops"`
	Held          string          `json:"held,omitempty"`
	PlanID        string          `json:"plan_id,omitempty"`        // the held plan's id; for approve, the approved one's
	Unapproved    []idsync.Op     `json:"unapproved,omitempty"`     // approve: destructive ops the approved plan did not have
	PolicyChanged bool            `json:"policy_changed,omitempty"` // the policy changed since the last plan: everyone was evaluated
	Reconcile     *sync.Reconcile `json:"reconcile,omitempty"`      // what listing the workspace found (full reads, --reconcile)
	Resumed       int             `json:"resumed"`
	Pending       int             `json:"pending"`
	Applied       int             `json:"applied"`
	Failed        int             `json:"failed"`
	Error         string          `json:"error,omitempty"`
}

func toResult(c *sync.Connection, res *sync.Result, err error) syncResult {
	r := syncResult{Connection: c.Name, Source: c.SourceType, Counts: idsync.Counts{}, Ops: []idsync.Op{}}
	if res != nil {
		r.DryRun, r.Full, r.RunID, r.Held = res.DryRun, res.Full, res.RunID, res.Held
		r.PlanID, r.Unapproved, r.PolicyChanged = res.PlanID, res.Unapproved, res.PolicyChanged
		r.Reconcile = res.Reconcile
		r.Resumed, r.Pending, r.Applied, r.Failed = res.Resumed, res.Pending, res.Applied, res.Failed
		r.Counts = res.Plan.Counts()
		if res.Plan.Ops != nil {
			r.Ops = res.Plan.Ops
		}
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printPlan renders a plan for people, one aligned line per op:
//
//	acme (entra) — 3 to create, 1 to update, 1 role change, 1 to disable, 0 to delete
//	  + create   alice@acme.test   role=writer
func printPlan(w io.Writer, r syncResult) {
	printOps(w, r)
	switch {
	case r.Error != "":
		fmt.Fprintf(w, "  ! failed: %s\n", shown(r.Error))
	case r.Held != "" && r.DryRun:
		fmt.Fprintf(w, "  ! held: %s\n    (dry run: a real run would hold this plan as %s; nothing was applied)\n", shown(r.Held), r.PlanID)
	case r.Held != "":
		fmt.Fprintf(w, "  ! held: %s\n    nothing was applied; this is plan %s. Review it, then run: idsync approve %s --plan %s\n",
			shown(r.Held), r.PlanID, r.Connection, r.PlanID)
	case r.DryRun:
		if r.Pending > 0 {
			// The dry run cannot tell a run applying them now (another
			// process) from one that was interrupted: say both.
			fmt.Fprintf(w, "  %d ops already planned wait in the outbox (a run applying them now, or one interrupted) and go before this plan\n", r.Pending)
		}
	default:
		line := fmt.Sprintf("  applied %d, failed %d", r.Applied, r.Failed)
		if r.Resumed > 0 {
			line += fmt.Sprintf(" (%d resumed from an interrupted run)", r.Resumed)
		}
		if r.Failed > 0 {
			line += fmt.Sprintf(" — failed ops are retried on the next run; see: idsync log --connection %s", r.Connection)
		}
		fmt.Fprintln(w, line)
	}
}

// printOps prints the plan's head line and one line per op. A first sync
// prints a line for each of 100,000 users: the lines are built by hand into
// a buffer (fmt and a write per line cost a tenth of the run).
func printOps(out io.Writer, r syncResult) {
	w := bufio.NewWriterSize(out, 64<<10)
	defer w.Flush()
	c := r.Counts
	head := fmt.Sprintf("%s (%s) — %d to create, %d to update, %s, %d to disable, %d to delete",
		r.Connection, r.Source, c[idsync.OpCreate], c[idsync.OpUpdate], plural(c[idsync.OpSetRole], "role change"),
		c[idsync.OpDisable], c[idsync.OpDelete])
	if n := c[idsync.OpEnable]; n > 0 {
		head += fmt.Sprintf(", %d to enable", n)
	}
	if g := c[idsync.OpGroupCreate] + c[idsync.OpGroupUpdate] + c[idsync.OpGroupDelete] + c[idsync.OpMemberAdd] + c[idsync.OpMemberRemove]; g > 0 {
		head += fmt.Sprintf(", %s", plural(g, "group change"))
	}
	fmt.Fprintln(w, head)
	nameWidth, wordWidth := 24, 8
	words := map[idsync.OpKind]bool{} // describeOp's word depends on the kind only
	for _, op := range r.Ops {
		if !words[op.Kind] {
			words[op.Kind] = true
			_, word, _ := describeOp(op)
			wordWidth = max(wordWidth, len(word))
		}
		nameWidth = max(nameWidth, len(shown(op.Name()))+2)
	}
	if r.PolicyChanged {
		fmt.Fprintln(w, "  (the connection's policy changed since its last plan: every user was evaluated)")
	}
	if rc := r.Reconcile; rc != nil {
		fmt.Fprintf(w, "  (workspace: %s)\n", shown(rc.Summary()))
	}
	var line []byte
	for _, op := range r.Ops {
		sign, word, detail := describeOp(op)
		// = fmt's "  %s %-*s %-*s %s\n"
		line = append(line[:0], "  "...)
		line = append(line, sign...)
		line = append(line, ' ')
		line = padRight(line, word, wordWidth)
		line = append(line, ' ')
		line = padRight(line, shown(op.Name()), nameWidth)
		line = append(line, ' ')
		line = append(line, detail...)
		line = append(line, '\n')
		w.Write(line)
	}
	if rc := r.Reconcile; rc != nil {
		for _, u := range rc.Unmanaged {
			if u.Action == "left alone" {
				state := "active"
				if !u.Active {
					state = "inactive"
				}
				fmt.Fprintf(w, "  ? %-*s %-*s %s, not managed by idsync: left alone (unmanaged: %s)\n", wordWidth, "unmanaged", nameWidth, shown(u.UserName), state, rc.Policy)
			}
		}
		for _, g := range rc.UnmanagedGroups {
			if g.Action == "left alone" {
				fmt.Fprintf(w, "  ? %-*s %-*s group of %d, not managed by idsync: left alone\n", wordWidth, "unmanaged", nameWidth, shown(g.DisplayName), g.Members)
			}
		}
	}
}

// describeOp words op for people; the detail's text from outside (roles,
// reasons naming groups, ids) is cleaned part by part (shown, or %q), so a
// long detail is not cut as a whole.
func describeOp(op idsync.Op) (sign, word, detail string) {
	switch op.Kind {
	case idsync.OpCreate:
		if op.Account.Role != "" {
			detail = "role=" + shown(op.Account.Role)
		}
		return "+", "create", strings.TrimSpace(detail + " " + paren(op.Reason))
	case idsync.OpUpdate:
		parts := make([]string, len(op.Changes))
		for i, ch := range op.Changes {
			parts[i] = fmt.Sprintf("%s: %q → %q", ch.Field, ch.Old, ch.New)
		}
		return "~", "update", strings.TrimSpace(strings.Join(parts, ", ") + " " + paren(op.Reason))
	case idsync.OpSetRole:
		prev := ""
		if op.Prev != nil {
			prev = op.Prev.Role
		}
		return "~", "role", strings.TrimSpace(fmt.Sprintf("%s → %s %s", shown(orNone(prev)), shown(orNone(op.Account.Role)), paren(op.Reason)))
	case idsync.OpEnable:
		return "+", "enable", paren(op.Reason)
	case idsync.OpDisable:
		return "-", "disable", paren(op.Reason)
	case idsync.OpDelete:
		return "-", "delete", paren(op.Reason)
	case idsync.OpGroupCreate:
		return "+", "group create", paren(op.Reason)
	case idsync.OpGroupUpdate:
		return "~", "group rename", strings.TrimSpace(fmt.Sprintf("%q → %q", op.PrevGroup.DisplayName, op.Group.DisplayName) + " " + paren(op.Reason))
	case idsync.OpGroupDelete:
		return "-", "group delete", paren(op.Reason)
	case idsync.OpMemberAdd:
		return "+", "members", strings.TrimSpace(memberList(op.Members) + " " + paren(op.Reason))
	case idsync.OpMemberRemove:
		return "-", "members", strings.TrimSpace(memberList(op.Members) + " " + paren(op.Reason))
	}
	return "?", string(op.Kind), ""
}

// padRight appends s padded with spaces to width runes, as fmt's %-*s.
func padRight(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for n := width - utf8.RuneCountInString(s); n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}

func memberList(ms []idsync.Member) string {
	ids := make([]string, 0, min(len(ms), 5))
	for _, m := range ms[:min(len(ms), 5)] {
		ids = append(ids, shown(m.ExternalID))
	}
	s := fmt.Sprintf("%s: %s", plural(len(ms), "user"), strings.Join(ids, ", "))
	if len(ms) > 5 {
		s += ", …"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + shown(s) + ")"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
