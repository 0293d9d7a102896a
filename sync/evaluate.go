package sync

import (
	"fmt"
	"slices"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// evaluation is a set of users with what the snapshot and the applied state
// say about them: the input of the diff.
type evaluation struct {
	graph   *graph
	users   []facts // the users evaluated, in no particular order (the plan is sorted)
	applied map[string]state.AppliedUser
	members map[string][]string // user → applied group memberships
	groups  map[string]state.AppliedGroup
	// dirtyUsers/dirtyGroups are the marks this evaluation covers; all says
	// it covered everyone.
	dirtyUsers, dirtyGroups []string
	all                     bool
	// policy is the policy fingerprint to record with this evaluation's
	// plan when the policy changed since the last one, or none was
	// recorded ("" otherwise); policyChanged says a recorded one differed.
	policy        string
	policyChanged bool
	// lost are the evaluated users' memberships drift reconcile found gone
	// from the workspace, with the order number each keeps (state/lost.go);
	// stale, set by the plan, are those the IdP no longer wants.
	lost  map[string]map[string]int64
	stale [][2]string
}

// directory is the snapshot side of what an evaluation reads: the SQLite
// snapshot (a *state.Tx), or a first read held in memory (memDirectory).
type directory interface {
	Groups(conn string) ([]state.GroupRow, error)
	GroupEdges(conn string) ([][2]string, error)
	Users(conn string, ids []string) ([]*idsync.User, error)
	AllUsers(conn string) ([]*idsync.User, error)
	UserGroups(conn string, ids []string) (map[string][]string, error)
	Assignments(conn string, principals []string) (map[string][]string, error)
}

// snapshotDir is the SQLite snapshot as a directory.
type snapshotDir struct{ *state.Tx }

var _ directory = snapshotDir{}

func (d snapshotDir) Users(conn string, ids []string) ([]*idsync.User, error) {
	us, err := d.Tx.Users(conn, ids)
	return pointers(us), err
}

func (d snapshotDir) AllUsers(conn string) ([]*idsync.User, error) {
	us, err := d.Tx.AllUsers(conn)
	return pointers(us), err
}

func pointers(us []idsync.User) []*idsync.User {
	out := make([]*idsync.User, len(us))
	for i := range us {
		out[i] = &us[i]
	}
	return out
}

// evaluate loads what a plan needs: everyone (full, or the policy changed
// since the last plan) or only users marked dirty and users below dirty
// groups, so an incremental run costs O(changes) plus O(groups), never
// O(users).
func (c *Connection) evaluate(tx *state.Tx, full bool) (*evaluation, error) {
	fp, changed, recorded, err := c.policyChanged(tx)
	if err != nil {
		return nil, err
	}
	g, err := c.loadGraph(snapshotDir{tx})
	if err != nil {
		return nil, err
	}
	if full || changed {
		// A policy change can move anyone (a new role rule, a wider scope):
		// everyone is evaluated from the snapshot, without a re-read.
		ev, err := c.evaluateIDs(tx, snapshotDir{tx}, g, nil)
		if ev != nil {
			ev.all = true
			if changed {
				ev.policy, ev.policyChanged = fp, recorded
			}
		}
		return ev, err
	}
	dirtyUsers, dirtyGroups, err := tx.Dirty(c.Name)
	if err != nil {
		return nil, err
	}
	ids := slices.Clone(dirtyUsers)
	below := g.descendants(dirtyGroups)
	if c.Policy.GroupSync {
		// Users of pushed groups not applied yet need member ops.
		applied, err := tx.AppliedGroups(c.Name)
		if err != nil {
			return nil, err
		}
		var fresh []string
		for id := range g.pushed {
			if _, ok := applied[id]; !ok {
				fresh = append(fresh, id)
			}
		}
		below = append(below, g.descendants(fresh)...)
	}
	if len(below) > 0 {
		more, err := tx.GroupUsers(c.Name, below)
		if err != nil {
			return nil, err
		}
		ids = append(ids, more...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if ids == nil {
		ids = []string{}
	}
	ev, err := c.evaluateIDs(tx, snapshotDir{tx}, g, ids)
	if ev != nil {
		ev.dirtyUsers, ev.dirtyGroups = dirtyUsers, dirtyGroups
	}
	return ev, err
}

func (c *Connection) loadGraph(dir directory) (*graph, error) {
	groups, err := dir.Groups(c.Name)
	if err != nil {
		return nil, err
	}
	edges, err := dir.GroupEdges(c.Name)
	if err != nil {
		return nil, err
	}
	return newGraph(groups, edges, c.Policy), nil
}

// evaluateIDs loads the facts (from dir) and applied state (from tx) of the
// users ids (nil: everyone).
func (c *Connection) evaluateIDs(tx *state.Tx, dir directory, g *graph, ids []string) (*evaluation, error) {
	ev := &evaluation{graph: g}
	var err error
	if ev.groups, err = tx.AppliedGroups(c.Name); err != nil {
		return nil, err
	}
	var users []*idsync.User
	if ids == nil {
		users, err = dir.AllUsers(c.Name)
	} else {
		users, err = dir.Users(c.Name, ids)
	}
	if err != nil {
		return nil, err
	}
	if ev.applied, err = tx.AppliedUsers(c.Name, ids); err != nil {
		return nil, err
	}
	direct, err := dir.UserGroups(c.Name, ids)
	if err != nil {
		return nil, err
	}
	if ev.members, err = tx.AppliedMemberships(c.Name, ids); err != nil {
		return nil, err
	}
	if c.Policy.GroupSync {
		if ev.lost, err = tx.LostMembers(c.Name, ids); err != nil {
			return nil, err
		}
	}
	// Assignments of the users and of the groups they are directly in.
	var principals []string
	if ids != nil {
		principals = slices.Clone(ids)
		for _, gs := range direct {
			principals = append(principals, gs...)
		}
		slices.Sort(principals)
		principals = slices.Compact(principals)
	}
	roles, err := dir.Assignments(c.Name, principals)
	if err != nil {
		return nil, err
	}
	// Some workspaces (Whimsical, per Microsoft's tutorial) exclude Entra
	// assignments with the Default Access role (role "") from provisioning.
	roleRequired := c.SourceType == "entra" && targets.TraitsOf(c.Target).AssignedRoleRequired
	grants := func(rs []string) bool {
		return !roleRequired || slices.ContainsFunc(rs, func(r string) bool { return r != "" })
	}
	ev.users = make([]facts, 0, len(users)+len(ev.applied))
	// seen finds applied accounts without a user; a first sync has none
	// (and 100,000 users to skip recording).
	var seen map[string]bool
	if len(ev.applied) > 0 {
		seen = make(map[string]bool, len(users))
	}
	for _, u := range users {
		f := facts{id: u.ID, user: u, directGroup: direct[u.ID]}
		rs, ok := roles[u.ID]
		f.assigned = ok && grants(rs)
		f.defaultAccessOnly = ok && !f.assigned
		f.roles = append(f.roles, rs...)
		for _, gid := range f.directGroup {
			if grs, ok := roles[gid]; ok {
				if grants(grs) {
					f.assigned = true
				} else {
					f.defaultAccessOnly = true
				}
				f.roles = append(f.roles, grs...)
			}
		}
		f.defaultAccessOnly = f.defaultAccessOnly && !f.assigned
		ev.users = append(ev.users, f)
		if seen != nil {
			seen[u.ID] = true
		}
	}
	// An applied account whose user the snapshot no longer has is evaluated
	// as deleted.
	for id := range ev.applied {
		if !seen[id] {
			ev.users = append(ev.users, facts{id: id})
		}
	}
	return ev, nil
}

// checkRefs reports scope, role-rule and included groups that match no
// group of a non-empty snapshot: a typo in scope would put everyone out of
// scope, in a role rule would downgrade its members to the default role, in
// groups.include would delete the group from the workspace.
func (c *Connection) checkRefs(g *graph) error {
	if len(g.names) == 0 {
		return nil
	}
	const how = "names are matched case-insensitively, ids exactly"
	if bad := g.unresolved(c.Policy.Scope.Groups); len(bad) > 0 {
		return fmt.Errorf("scope.groups: no group named %q in %s (%s)", bad, c.idpName(), how)
	}
	for i, r := range c.Policy.Rules {
		if r.Group != "" && len(g.unresolved([]string{r.Group})) > 0 {
			return fmt.Errorf("roles.rules[%d].group: no group named %q in %s (%s); fix the rule or remove it", i, r.Group, c.idpName(), how)
		}
	}
	if c.Policy.GroupSync {
		if bad := g.unresolved(c.Policy.GroupInclude); len(bad) > 0 {
			return fmt.Errorf("groups.include: no group named %q in %s (%s)", bad, c.idpName(), how)
		}
	}
	return nil
}
