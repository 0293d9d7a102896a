package sync

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// Drift reconcile of pushed groups (groups.sync; OfficeRnD teams): on a
// full read or --reconcile the workspace's groups are listed with their
// members and compared with what idsync last applied. A managed group
// deleted by hand is forgotten (its members' order numbers kept, so a
// user's primary team stays first: state/lost.go) and the plan creates it
// again and puts its members back; a renamed one (or one whose
// description changed, where the workspace takes descriptions) is
// recorded as the workspace has it, and the plan updates it back; a
// member removed by hand is forgotten and the plan adds it again; a
// managed account added by hand is recorded, and the plan removes it if
// the IdP does not want it there. Groups idsync does not manage are
// reported and left alone, and so are accounts idsync does not manage in
// a managed group.

// Group drift reasons.
const (
	reasonMembers = "members changed in the workspace"
)

// UnmanagedGroup is one workspace group idsync does not manage.
type UnmanagedGroup struct {
	TargetID    string `json:"targetId"`
	DisplayName string `json:"displayName"`
	ExternalID  string `json:"externalId,omitempty"`
	Members     int    `json:"members"`
	// Action: "left alone", or "adopt" (a pushed group of that name or
	// externalId is created this run: the create takes it over).
	Action string `json:"action"`
}

// groupListing is the workspace's groups, and the applied groups and
// memberships as they were when the listing began (a group changed since
// by an op is not judged by it).
type groupListing struct {
	byTarget      map[string]targets.ListedGroup
	before        map[string]state.AppliedGroup
	membersBefore map[string]string // group → its applied members, joined
}

// groupDrift is what a group listing shows against the applied state.
type groupDrift struct {
	lost      []string                      // groups deleted by hand
	fixed     map[string]state.AppliedGroup // groups renamed (re-described) by hand, as listed
	gone      map[string][]string           // group → members removed by hand
	added     map[string][]string           // group → managed accounts added by hand
	why       map[string]string
	names     map[string]string
	dirty     []string // users to evaluate again
	unmanaged []UnmanagedGroup
}

// appliedMembersByGroup inverts the applied memberships: group → users.
func appliedMembersByGroup(tx *state.Tx, conn string) (map[string][]string, error) {
	byUser, err := tx.AppliedMemberships(conn, nil)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for u, gs := range byUser {
		for _, g := range gs {
			out[g] = append(out[g], u)
		}
	}
	for g := range out {
		slices.Sort(out[g])
	}
	return out, nil
}

// listGroups lists the workspace's groups when the connection pushes
// groups and the target can list them (nil, "" otherwise). A failed or
// untrustworthy listing is nil with why, and groups are not reconciled.
func (e *Engine) listGroups(ctx context.Context, c *Connection, read func(func(*state.Tx) error) error, log *slog.Logger) (*groupListing, string, error) {
	gl, ok := c.Target.(targets.GroupLister)
	if !c.Policy.GroupSync || !ok {
		return nil, "", nil
	}
	ls := &groupListing{byTarget: map[string]targets.ListedGroup{}, membersBefore: map[string]string{}}
	if err := read(func(tx *state.Tx) (err error) {
		if ls.before, err = tx.AppliedGroups(c.Name); err != nil {
			return err
		}
		ms, err := appliedMembersByGroup(tx, c.Name)
		for g, us := range ms {
			ls.membersBefore[g] = strings.Join(us, "\x00")
		}
		return err
	}); err != nil {
		return nil, "", err
	}
	err := gl.ListGroups(ctx, func(page []targets.ListedGroup) error {
		for _, g := range page {
			if g.TargetID != "" {
				ls.byTarget[g.TargetID] = g
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", err
		}
		log.Warn("workspace group listing failed; groups not reconciled", "error", err)
		return nil, c.scrub(fmt.Sprintf("listing the workspace's groups failed, no group was reconciled: %v", err)), nil
	}
	if len(ls.byTarget) == 0 && len(ls.before) > 0 {
		return nil, fmt.Sprintf("the workspace listed no groups while idsync manages %d there; not taken as proof that they were deleted, no group was reconciled", len(ls.before)), nil
	}
	return ls, "", nil
}

// compareGroups finds the group drift between ls and the applied state
// now; users maps each applied user to its workspace id. Groups with ops
// in the outbox are about to change: not judged.
func (c *Connection) compareGroups(tx *state.Tx, ls *groupListing, users map[string]state.AppliedUser, pending []state.Pending) (*groupDrift, error) {
	groups, err := tx.AppliedGroups(c.Name)
	if err != nil {
		return nil, err
	}
	members, err := appliedMembersByGroup(tx, c.Name)
	if err != nil {
		return nil, err
	}
	busy := map[string]bool{}
	for _, p := range pending {
		if p.Op.Kind.IsGroup() {
			busy[p.Op.ObjectID] = true
		}
	}
	userAt := map[string]string{} // workspace id → IdP id
	for id, a := range users {
		if a.TargetID != "" {
			userAt[a.TargetID] = id
		}
	}
	descs := targets.TraitsOf(c.Target).GroupDescriptions
	d := &groupDrift{fixed: map[string]state.AppliedGroup{}, gone: map[string][]string{}, added: map[string][]string{},
		why: map[string]string{}, names: map[string]string{}}
	managed := map[string]bool{}
	ids := make([]string, 0, len(groups))
	for id, g := range groups {
		ids = append(ids, id)
		if g.TargetID != "" {
			managed[g.TargetID] = true
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		g := groups[id]
		d.names[id] = g.Name
		if b, ok := ls.before[id]; !ok || b != g || ls.membersBefore[id] != strings.Join(members[id], "\x00") || busy[id] || g.TargetID == "" {
			continue
		}
		listed, ok := ls.byTarget[g.TargetID]
		if !ok || listed.ExternalID != "" && listed.ExternalID != id {
			// Deleted by hand (or the id now names another group).
			d.lost = append(d.lost, id)
			d.why[id] = reasonDeleted
			d.dirty = append(d.dirty, members[id]...)
			continue
		}
		var why []string
		fix := g
		if listed.DisplayName != g.Name {
			fix.Name = listed.DisplayName
		}
		if descs && listed.Description != g.Description {
			fix.Description = listed.Description
		}
		if fix != g {
			d.fixed[id] = fix
			why = append(why, reasonChanged)
		}
		in := map[string]bool{}
		for _, tid := range listed.Members {
			in[tid] = true
		}
		was := map[string]bool{}
		for _, u := range members[id] {
			was[u] = true
			if tid := users[u].TargetID; tid != "" && !in[tid] {
				d.gone[id] = append(d.gone[id], u)
			}
		}
		for _, tid := range listed.Members {
			if u, ok := userAt[tid]; ok && !was[u] {
				d.added[id] = append(d.added[id], u)
			}
		}
		if len(d.gone[id])+len(d.added[id]) > 0 {
			why = append(why, reasonMembers)
			d.dirty = append(d.dirty, d.gone[id]...)
			d.dirty = append(d.dirty, d.added[id]...)
		}
		if len(why) > 0 {
			d.why[id] = strings.Join(why, "; ")
		}
	}
	for tid, g := range ls.byTarget {
		if !managed[tid] {
			d.unmanaged = append(d.unmanaged, UnmanagedGroup{TargetID: tid, DisplayName: g.DisplayName, ExternalID: g.ExternalID, Members: len(g.Members), Action: "left alone"})
		}
	}
	slices.SortFunc(d.unmanaged, func(a, b UnmanagedGroup) int {
		return cmp.Or(strings.Compare(a.DisplayName, b.DisplayName), strings.Compare(a.TargetID, b.TargetID))
	})
	return d, nil
}

// record writes the group drift into the applied state and marks what
// must be planned again.
func (d *groupDrift) record(tx *state.Tx, conn string) error {
	var errs []error
	for _, id := range d.lost {
		errs = append(errs, tx.LoseAppliedGroup(conn, id), tx.MarkGroupDirty(conn, id))
	}
	for _, g := range d.fixed {
		errs = append(errs, tx.SetAppliedGroup(conn, g))
	}
	for id, us := range d.gone {
		errs = append(errs, tx.LoseGroupMembers(conn, id, us))
	}
	for id, us := range d.added {
		errs = append(errs, tx.SetAppliedMembers(conn, id, us, true))
	}
	for _, u := range d.dirty {
		errs = append(errs, tx.MarkUserDirty(conn, u))
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("reconcile groups: %w", err)
		}
	}
	return nil
}

// patch applies the group drift to an evaluation's applied view (dry runs
// of a first read held in memory).
func (d *groupDrift) patch(ev *evaluation) {
	drop := func(u, g string) {
		ev.members[u] = slices.DeleteFunc(slices.Clone(ev.members[u]), func(x string) bool { return x == g })
	}
	for _, id := range d.lost {
		delete(ev.groups, id)
		for u := range ev.members {
			drop(u, id)
		}
	}
	for id, g := range d.fixed {
		ev.groups[id] = g
	}
	for id, us := range d.gone {
		for _, u := range us {
			drop(u, id)
		}
	}
	for id, us := range d.added {
		for _, u := range us {
			ev.members[u] = append(slices.Clone(ev.members[u]), id)
		}
	}
}

// finish explains the plan's group corrections and which unmanaged groups
// a create adopts, and fills rec.
func (d *groupDrift) finish(plan *idsync.Plan, rec *Reconcile) {
	creates := map[string]bool{}
	for i := range plan.Ops {
		o := &plan.Ops[i]
		if !o.Kind.IsGroup() {
			continue
		}
		if o.Kind == idsync.OpGroupCreate {
			creates[o.ObjectID] = true
			creates["name:"+strings.ToLower(o.Group.DisplayName)] = true
		}
		if why := d.reason(*o); why != "" {
			o.Reason = strings.TrimSuffix(why+"; "+o.Reason, "; ")
		}
	}
	rec.GroupsCorrected = len(d.why)
	for i := range d.unmanaged {
		g := &d.unmanaged[i]
		if g.ExternalID != "" && creates[g.ExternalID] || creates["name:"+strings.ToLower(g.DisplayName)] {
			g.Action = "adopt"
		}
	}
	rec.UnmanagedGroups = d.unmanaged
}

// reason is why group op o corrects drift, "" when it does not.
func (d *groupDrift) reason(o idsync.Op) string {
	id := o.ObjectID
	switch {
	case slices.Contains(d.lost, id):
		return reasonDeleted
	case o.Kind == idsync.OpGroupUpdate:
		if _, ok := d.fixed[id]; ok {
			return reasonChanged
		}
	case o.Kind == idsync.OpMemberAdd || o.Kind == idsync.OpMemberRemove:
		if len(d.gone[id])+len(d.added[id]) > 0 {
			return reasonMembers
		}
	}
	return ""
}

// logGroups records the group drift and unmanaged groups in the
// provisioning log.
func (d *groupDrift) log(add func(state.Event)) {
	ids := make([]string, 0, len(d.why))
	for id := range d.why {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		add(state.Event{Kind: "drift", ObjectID: id, Name: d.names[id], Result: "found", Detail: "group " + d.why[id] + ": corrected by this run's plan"})
	}
	for _, g := range d.unmanaged {
		detail := "group not managed by idsync; left alone"
		if g.Action == "adopt" {
			detail = "group not managed by idsync; a pushed group of that name is created and takes it over"
		}
		add(state.Event{Kind: "unmanaged", ObjectID: g.TargetID, Name: g.DisplayName, Result: "reported", Detail: detail})
	}
}

// staleLost lists the lost memberships (state/lost.go) of the evaluated
// users that the IdP no longer wants: dropped with the plan, so joining
// again later puts the group last, as any new membership.
func staleLost(ev *evaluation, want map[string][]string) [][2]string {
	var out [][2]string
	for u, gs := range ev.lost {
		w, ok := want[u]
		if !ok {
			continue // not planned for groups this run (left alone)
		}
		for g := range gs {
			if !slices.Contains(w, g) {
				out = append(out, [2]string{g, u})
			}
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	return out
}
