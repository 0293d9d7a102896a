package sync

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// Explanation says why a user gets (or loses) what they get.
type Explanation struct {
	User     *idsync.User `json:"user,omitempty"`
	InScope  bool         `json:"in_scope"`
	Scope    string       `json:"scope"`
	Groups   []string     `json:"groups"` // direct groups, by name
	AppRoles []string     `json:"app_roles,omitempty"`
	// Teams are the pushed groups idsync put the user in, in the order each
	// membership was first applied, where the workspace cares (OfficeRnD:
	// the first is the primary team).
	Teams    []string        `json:"teams,omitempty"`
	Rule     string          `json:"rule"` // the role rule that matched, or "default"
	Decision string          `json:"decision"`
	Desired  *idsync.Account `json:"desired,omitempty"`
	Applied  *idsync.Account `json:"applied,omitempty"`
	TargetID string          `json:"target_id,omitempty"`
	Pending  []idsync.Op     `json:"pending"` // what the next run would do for this user, from the snapshot as it is
	Events   []state.Event   `json:"events"`
}

// Explain finds who (an IdP id, or a userName compared case-insensitively)
// in c's snapshot and explains the engine's decision for them. It reads the
// snapshot only; it does not pull.
func (e *Engine) Explain(ctx context.Context, c *Connection, who string) (*Explanation, error) {
	var x Explanation
	err := e.Store.View(ctx, func(tx *state.Tx) error {
		id, err := findUser(tx, c.Name, who)
		if err != nil {
			return err
		}
		g, err := c.loadGraph(snapshotDir{tx})
		if err != nil {
			return err
		}
		one, err := c.evaluateIDs(tx, snapshotDir{tx}, g, []string{id})
		if err != nil {
			return err
		}
		var f facts
		for _, uf := range one.users {
			if uf.id == id {
				f = uf
			}
		}
		d := c.decide(one.graph, f)
		x.User = f.user
		x.InScope, x.Scope = d.inScope, d.scopeWhy
		for _, g := range f.directGroup {
			x.Groups = append(x.Groups, one.graph.names[g])
		}
		x.AppRoles = f.roles
		x.Rule = "default (" + orNone(c.Policy.DefaultRole) + ")"
		if d.ruleIndex >= 0 {
			r := c.Policy.Rules[d.ruleIndex]
			x.Rule = fmt.Sprintf("rules[%d]: group %q → %s", d.ruleIndex, r.Group, r.Role)
			if r.AppRole != "" {
				x.Rule = fmt.Sprintf("rules[%d]: app_role %q → %s", d.ruleIndex, r.AppRole, r.Role)
			}
		}
		x.Decision = map[want]string{wantActive: "active account", wantInactive: "disabled account", wantAbsent: "no account (delete)",
			wantLeave: "leave as is", wantNone: "no account"}[d.want]
		if d.reason != "" {
			x.Decision += " — " + d.reason
		}
		if d.want == wantActive {
			x.Desired = &d.account
		}
		if a, ok := one.applied[id]; ok {
			x.Applied, x.TargetID = &a.Account, a.TargetID
		}
		for _, op := range c.plan(one).Ops {
			if op.ObjectID == id {
				x.Pending = append(x.Pending, op)
			}
		}
		if targets.TraitsOf(c.Target).OrderedMembers {
			order, err := tx.MemberOrder(c.Name, []string{id})
			if err != nil {
				return err
			}
			for _, gid := range order[id] {
				x.Teams = append(x.Teams, cmp.Or(one.graph.names[gid], gid))
			}
		}
		x.Events, err = tx.Events(state.Filter{Connection: c.Name, User: id, Limit: 10})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &x, nil
}

func findUser(tx *state.Tx, conn, who string) (string, error) {
	if us, err := tx.Users(conn, []string{who}); err != nil || len(us) == 1 {
		return who, err
	}
	all, err := tx.AllUsers(conn)
	if err != nil {
		return "", err
	}
	for _, u := range all {
		if strings.EqualFold(u.UserName, who) || strings.EqualFold(u.Email, who) {
			return u.ID, nil
		}
	}
	applied, err := tx.AppliedUsers(conn, nil)
	if err != nil {
		return "", err
	}
	for id, a := range applied {
		if strings.EqualFold(a.Account.UserName, who) {
			return id, nil
		}
	}
	return "", fmt.Errorf("no user %q in %s's snapshot (give the IdP id or the userName)", who, conn)
}
