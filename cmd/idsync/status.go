package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/state"
)

// connStatus is one connection's line in `idsync status`.
type connStatus struct {
	Connection string            `json:"connection"`
	Source     string            `json:"source"`
	LastRun    *state.Run        `json:"last_run,omitempty"`
	CursorAt   time.Time         `json:"cursor_at,omitzero"` // last completed pull
	FullAt     time.Time         `json:"full_at,omitzero"`   // last completed full read
	Applied    int               `json:"users_applied"`
	Pending    int               `json:"ops_pending"`
	Failed     int               `json:"ops_failed_last_run"`
	Held       *heldPlan         `json:"held,omitempty"`
	Workspace  *workspaceListing `json:"workspace,omitempty"` // the last workspace listing
	// Change notifications: the Graph subscriptions / Okta hook idsync owns.
	Notify    []state.NotifySubscription `json:"notify,omitempty"`
	NotifyOff bool                       `json:"notify_off,omitempty"`
	Push      *state.PushStats           `json:"push,omitempty"`   // push connections: what the IdP pushed
	Daemon    *leaseOwner                `json:"daemon,omitempty"` // PostgreSQL state: the daemon holding its lease
}

// leaseOwner is the daemon that holds (or last held) a connection's lease.
type leaseOwner struct {
	ID      string    `json:"id"`
	Host    string    `json:"host,omitempty"`
	PID     int       `json:"pid,omitempty"`
	Token   int64     `json:"token"`
	Expires time.Time `json:"expires"`
	Live    bool      `json:"live"`
}

// workspaceListing is what the last listing of the workspace (a full read,
// or sync --reconcile) found: drift and unmanaged accounts.
type workspaceListing struct {
	At      time.Time `json:"at"`
	Result  string    `json:"result"` // listed | failed
	Summary string    `json:"summary"`
}

type heldPlan struct {
	PlanID string    `json:"plan_id"` // what `idsync approve --plan` names
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	Ops    int       `json:"ops"`
}

func statusCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each connection's last run, cursor age, applied users, pending ops and held plans",
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd.Context(), g, false)
			if err != nil {
				return err
			}
			defer a.close()
			var out []connStatus
			err = a.store.View(cmd.Context(), func(tx *state.Tx) error {
				owners, err := leaseOwners(tx)
				if err != nil {
					return err
				}
				for _, cc := range a.cfg.Connections {
					name := cc.Name
					s := connStatus{Connection: name, Source: cc.Source.Type, Daemon: owners[name]}
					runs, err := tx.Runs(state.Filter{Connection: name, Limit: 1})
					if err != nil {
						return err
					}
					if len(runs) > 0 {
						s.LastRun, s.Failed = &runs[0], runs[0].Failed
					}
					cur, err := tx.Cursor(name)
					if err != nil {
						return err
					}
					s.CursorAt, s.FullAt = cur.UpdatedAt, cur.FullAt
					if cc.Push() {
						ps, err := tx.PushStats(name)
						if err != nil {
							return err
						}
						s.Push = &ps
					}
					if s.Applied, err = tx.AppliedCount(name); err != nil {
						return err
					}
					if s.Pending, err = tx.OutboxLen(name); err != nil {
						return err
					}
					rec, err := tx.Events(state.Filter{Connection: name, Kind: "reconcile", Limit: 1})
					if err != nil {
						return err
					}
					if len(rec) > 0 {
						s.Workspace = &workspaceListing{At: rec[0].At, Result: rec[0].Result, Summary: rec[0].Detail}
					}
					h, err := tx.Held(name)
					if err != nil {
						return err
					}
					if h != nil {
						s.Held = &heldPlan{PlanID: h.ID, At: h.HeldAt, Reason: h.Reason, Ops: len(h.Plan.Ops)}
					}
					if s.Notify, err = tx.NotifySubscriptions(name); err != nil {
						return err
					}
					if s.NotifyOff, err = tx.NotifyOff(name); err != nil {
						return err
					}
					out = append(out, s)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(g.stdout, map[string]any{"connections": out})
			}
			now := time.Now()
			for _, s := range out {
				fmt.Fprintf(g.stdout, "%s\n", s.Connection)
				printOwner(g, now, s.Daemon)
				if s.LastRun == nil {
					fmt.Fprintf(g.stdout, "  last run    never\n")
				} else {
					r := s.LastRun
					fmt.Fprintf(g.stdout, "  last run    #%d %s, %s ago: %s (planned %d, applied %d, failed %d)\n",
						r.ID, r.Kind, ago(now, r.StartedAt), r.Result, r.Planned, r.Applied, r.Failed)
					if r.Error != "" {
						fmt.Fprintf(g.stdout, "              %s\n", shown(r.Error))
					}
				}
				if p := s.Push; p != nil {
					fmt.Fprintf(g.stdout, "  pushed      %d users, %d groups; last push %s\n", p.Users, p.Groups, agoOrNever(now, p.LastPush))
				} else {
					fmt.Fprintf(g.stdout, "  cursor      %s (last full read %s)\n", agoOrNever(now, s.CursorAt), agoOrNever(now, s.FullAt))
				}
				if s.Source == "entra" && !s.CursorAt.IsZero() && now.Sub(s.CursorAt) > 6*24*time.Hour {
					fmt.Fprintf(g.stdout, "              Graph delta tokens expire after 7 days: the next run may be a full resync\n")
				}
				fmt.Fprintf(g.stdout, "  applied     %d users\n", s.Applied)
				fmt.Fprintf(g.stdout, "  outbox      %d ops pending\n", s.Pending)
				for _, l := range notifyLines(s, now) {
					fmt.Fprintf(g.stdout, "  notify      %s\n", l)
				}
				if w := s.Workspace; w != nil {
					fmt.Fprintf(g.stdout, "  workspace   %s ago: %s\n", ago(now, w.At), shown(w.Summary))
				}
				if s.Held != nil {
					fmt.Fprintf(g.stdout, "  HELD        %d ops since %s: %s\n", s.Held.Ops, s.Held.At.Local().Format(time.DateTime), shown(s.Held.Reason))
					fmt.Fprintf(g.stdout, "              plan %s; review and release it: idsync approve %s (shows it and asks), or idsync approve %s --plan %s\n",
						s.Held.PlanID, s.Connection, s.Connection, s.Held.PlanID)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text | json")
	return cmd
}

func ago(now, t time.Time) string {
	return now.Sub(t).Round(time.Second).String()
}

func agoOrNever(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return ago(now, t) + " ago"
}
