package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// What a connection does with workspace accounts idsync does not manage
// (config: unmanaged).
const (
	UnmanagedReport  = "report"  // list them in the plan, status and log; leave them alone
	UnmanagedDisable = "disable" // also disable them, within the safety limits
)

// Drift reasons, as plans and the log show them.
const (
	reasonChanged  = "changed in the workspace"
	reasonDeleted  = "deleted in the workspace"
	reasonDisabled = "disabled in the workspace"
	reasonEnabled  = "enabled in the workspace"
)

// Reconcile is what comparing a workspace listing with the applied state
// found (Result.Reconcile; nil when the run did not list).
type Reconcile struct {
	// Listed is how many accounts the workspace listed.
	Listed int `json:"listed"`
	// Corrected is how many managed accounts were changed or deleted by
	// hand: the plan puts them back.
	Corrected int `json:"corrected"`
	// Unmanaged are the workspace's accounts idsync does not manage.
	Unmanaged []Unmanaged `json:"unmanaged,omitempty"`
	// Policy is the connection's unmanaged setting: report | disable.
	Policy string `json:"policy"`
	// Error says why nothing was reconciled (the listing failed, or could
	// not be trusted); the rest of the run went on without it.
	Error string `json:"error,omitempty"`

	// Pushed groups (groups.sync, where the workspace lists groups):
	// how many the workspace listed, how many managed ones were changed or
	// deleted by hand (the plan puts them back), the unmanaged ones, and
	// why groups were not reconciled when they were not.
	GroupsListed    int              `json:"groupsListed,omitempty"`
	GroupsCorrected int              `json:"groupsCorrected,omitempty"`
	UnmanagedGroups []UnmanagedGroup `json:"unmanagedGroups,omitempty"`
	GroupsError     string           `json:"groupsError,omitempty"`
}

// Unmanaged is one workspace account idsync does not manage.
type Unmanaged struct {
	TargetID   string `json:"targetId"`
	UserName   string `json:"userName"`
	ExternalID string `json:"externalId,omitempty"`
	Active     bool   `json:"active"`
	// Action is what this run does with it: "left alone", "disable" or
	// "adopt" (an in-scope IdP user of that name is created: the create
	// takes the account over, the guides' "import workspace members").
	Action string `json:"action"`
}

// listing is one complete workspace listing and the applied state as it
// was when the listing began: an account whose applied state changed since
// (an op applied in between) is not judged by the listing, which may have
// been taken before or after the op reached the workspace.
type listing struct {
	byTarget map[string]idsync.Account
	before   map[string]state.AppliedUser
	n        int
	groups   *groupListing // nil: groups not listed
}

// drift is what a listing shows against the applied state: the applied
// view of each drifted managed account (nil: deleted by hand) and why.
type drift struct {
	fixed     map[string]*state.AppliedUser
	why       map[string]string
	unmanaged []Unmanaged
	known     map[string]bool // IdP ids idsync has applied (unmanaged accounts carrying one are never disabled)
	names     map[string]string
	groups    *groupDrift // nil: groups not listed
}

// listWorkspace lists the workspace when the run reconciles (a full read,
// or Options.Reconcile) and the target can list. read runs f on the state
// the run plans against. A listing that fails is reported in rec.Error and
// is nil: a partial listing proves nothing, so nothing is reconciled. The
// error returned is only the run's own (its context ended).
func (e *Engine) listWorkspace(ctx context.Context, c *Connection, want bool, read func(func(*state.Tx) error) error, log *slog.Logger) (*listing, *Reconcile, error) {
	l, ok := c.Target.(targets.Lister)
	if !want || !ok {
		return nil, nil, nil
	}
	rec := &Reconcile{Policy: c.unmanagedPolicy()}
	ls := &listing{byTarget: map[string]idsync.Account{}}
	if err := read(func(tx *state.Tx) (err error) {
		ls.before, err = tx.AppliedUsers(c.Name, nil)
		return err
	}); err != nil {
		return nil, nil, err
	}
	setPhase(ctx, "listing the workspace")
	progressOf(ctx).phase(PhaseList)
	err := l.ListUsers(ctx, func(page []idsync.Applied) error {
		for _, a := range page {
			if a.Account == nil || a.TargetID == "" {
				continue
			}
			ls.byTarget[a.TargetID] = *a.Account
			ls.n++
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, err
		}
		rec.Error = c.scrub(fmt.Sprintf("listing the workspace failed, nothing was reconciled (the next full read or sync --reconcile tries again): %v", err))
		log.Warn("workspace listing failed; nothing reconciled", "error", err)
		return nil, rec, nil
	}
	rec.Listed = ls.n
	if ls.n == 0 && len(ls.before) > 0 {
		// A workspace that lists nothing while idsync manages accounts in
		// it more likely hides them from the token than lost them all.
		rec.Error = fmt.Sprintf("the workspace listed no accounts while idsync manages %d there; not taken as proof that they were deleted, nothing was reconciled", len(ls.before))
		log.Warn("empty workspace listing; nothing reconciled", "applied", len(ls.before))
		return nil, rec, nil
	}
	if ls.groups, rec.GroupsError, err = e.listGroups(ctx, c, read, log); err != nil {
		return nil, nil, err
	}
	if ls.groups != nil {
		rec.GroupsListed = len(ls.groups.byTarget)
	}
	return ls, rec, nil
}

// index is the listing as a targets.Index for the run's creates.
func (ls *listing) index() *targets.Index {
	x := targets.NewIndex()
	for tid, a := range ls.byTarget {
		a := a
		x.Add(idsync.Applied{TargetID: tid, Account: &a})
	}
	return x
}

func (c *Connection) unmanagedPolicy() string {
	if c.Policy.Unmanaged == "" {
		return UnmanagedReport
	}
	return c.Policy.Unmanaged
}

// compare finds the drift between ls and the applied state now (ops
// pending in the outbox are about to change their accounts: not judged).
func (c *Connection) compare(tx *state.Tx, ls *listing) (*drift, error) {
	now, err := tx.AppliedUsers(c.Name, nil)
	if err != nil {
		return nil, err
	}
	pending, err := tx.Outbox(c.Name)
	if err != nil {
		return nil, err
	}
	busy := map[string]bool{}
	for _, p := range pending {
		busy[p.Op.ObjectID] = true
	}
	d := &drift{fixed: map[string]*state.AppliedUser{}, why: map[string]string{}, known: map[string]bool{}, names: map[string]string{}}
	managed := map[string]bool{}
	for id, a := range now {
		d.known[id], d.names[id] = true, a.Account.UserName
		if a.TargetID != "" {
			managed[a.TargetID] = true
		}
	}
	// A workspace that keeps externalId shows it on the managed accounts.
	keepsExt := false
	for id, a := range now {
		if l, ok := ls.byTarget[a.TargetID]; ok && a.TargetID != "" && l.ExternalID == id {
			keepsExt = true
			break
		}
	}
	for id, a := range now {
		if b, ok := ls.before[id]; !ok || b != a || busy[id] || a.TargetID == "" {
			continue
		}
		listed, ok := ls.byTarget[a.TargetID]
		if !ok || listed.ExternalID != "" && listed.ExternalID != id || listed.ExternalID == "" && keepsExt {
			// Deleted by hand, or the id now names another person's
			// account (handed over, or reused by a workspace that reuses
			// ids: another externalId, or none where the workspace keeps
			// them): never corrected, disabled or deleted as this user's.
			// The user's own account is found by identity if it has one.
			d.fixed[id], d.why[id] = nil, reasonDeleted
			continue
		}
		seen := targets.Observe(c.Target, a.Account, listed)
		seen.ExternalID = a.Account.ExternalID
		if seen == a.Account {
			continue
		}
		d.fixed[id] = &state.AppliedUser{TargetID: a.TargetID, Account: seen}
		switch {
		case a.Account.Active && !seen.Active:
			d.why[id] = reasonDisabled
		case !a.Account.Active && seen.Active:
			d.why[id] = reasonEnabled
		default:
			d.why[id] = reasonChanged
		}
	}
	for tid, a := range ls.byTarget {
		if !managed[tid] {
			d.unmanaged = append(d.unmanaged, Unmanaged{TargetID: tid, UserName: a.UserName, ExternalID: a.ExternalID, Active: a.Active, Action: "left alone"})
		}
	}
	slices.SortFunc(d.unmanaged, func(a, b Unmanaged) int {
		return cmp.Or(strings.Compare(a.UserName, b.UserName), strings.Compare(a.TargetID, b.TargetID))
	})
	if ls.groups != nil {
		if d.groups, err = c.compareGroups(tx, ls.groups, now, pending); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// record writes the drift into the applied state (in the plan's
// transaction) and marks the drifted users dirty, so the normal diff plans
// their corrections now and, if the plan is held, on later runs too.
func (d *drift) record(tx *state.Tx, conn string) error {
	for id, a := range d.fixed {
		var err error
		if a == nil {
			// Its memberships keep their order for when it is re-created.
			if err = tx.LoseUserMembers(conn, id); err == nil {
				err = tx.DeleteAppliedUser(conn, id)
			}
		} else {
			err = tx.SetAppliedUser(conn, a.TargetID, a.Account)
		}
		if err == nil {
			err = tx.MarkUserDirty(conn, id)
		}
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
	}
	if d.groups != nil {
		return d.groups.record(tx, conn)
	}
	return nil
}

// patch applies the drift to an evaluation's applied view, for a dry run
// that cannot write (a first read held in memory).
func (d *drift) patch(ev *evaluation) {
	for id, a := range d.fixed {
		if _, ok := ev.applied[id]; !ok {
			continue
		}
		if a == nil {
			delete(ev.applied, id)
			delete(ev.members, id)
		} else {
			ev.applied[id] = *a
		}
	}
	if d.groups != nil {
		d.groups.patch(ev)
	}
}

// finish explains the plan's corrections, adds the disables of unmanaged
// accounts (unmanaged: disable) and fills rec.
func (c *Connection) finish(d *drift, plan *idsync.Plan, rec *Reconcile) {
	// The creates are looked up only for unmanaged accounts (a first sync
	// plans 100,000 of them, and usually finds no unmanaged account).
	var creates map[string]bool
	if len(d.unmanaged) > 0 {
		creates = map[string]bool{}
	}
	for i := range plan.Ops {
		o := &plan.Ops[i]
		if o.Kind == idsync.OpCreate && creates != nil {
			creates[o.ObjectID] = true
			creates["name:"+strings.ToLower(o.Account.UserName)] = true
		}
		why, ok := d.why[o.ObjectID]
		if !ok || o.Kind.IsGroup() {
			continue
		}
		switch {
		case o.Reason == "" || o.Kind == idsync.OpEnable && why == reasonDisabled:
			o.Reason = why
		default:
			o.Reason = why + "; " + o.Reason
		}
	}
	rec.Corrected = len(d.fixed)
	for i := range d.unmanaged {
		u := &d.unmanaged[i]
		switch {
		case creates[u.ExternalID] && u.ExternalID != "" || creates["name:"+strings.ToLower(u.UserName)]:
			u.Action = "adopt"
		case rec.Policy != UnmanagedDisable || !u.Active || d.known[u.ExternalID]:
		default:
			u.Action = "disable"
			plan.Ops = append(plan.Ops, unmanagedDisable(c.Name, *u))
		}
	}
	rec.Unmanaged = d.unmanaged
	if d.groups != nil {
		d.groups.finish(plan, rec)
	}
	plan.Sort()
}

// unmanagedDisable is the op that disables unmanaged account u. It names
// the account by its workspace id (Op.Unmanaged) and by the externalId it
// carries, if any (the target checks the account still carries it); the
// applied state never records it, so the account stays unmanaged.
func unmanagedDisable(conn string, u Unmanaged) idsync.Op {
	id := u.ExternalID
	if id == "" {
		id = "workspace:" + u.TargetID
	}
	prev := idsync.Account{ExternalID: u.ExternalID, UserName: u.UserName, Active: true}
	off := prev
	off.Active = false
	return idsync.Op{Connection: conn, Kind: idsync.OpDisable, ObjectID: id, Unmanaged: u.TargetID, TargetID: u.TargetID,
		Account: &off, Prev: &prev, Reason: "not managed by idsync (unmanaged: disable)"}
}

// logReconcile records what the listing found in the provisioning log:
// one "reconcile" event (what idsync status shows) and one per drifted or
// unmanaged account.
func logReconcile(tx *state.Tx, conn string, runID int64, d *drift, rec *Reconcile) error {
	var errs []error
	add := func(e state.Event) {
		e.RunID, e.Connection = runID, conn
		errs = append(errs, tx.AddEvent(e))
	}
	if rec.Error != "" {
		add(state.Event{Kind: "reconcile", Result: "failed", Detail: rec.Error})
		return errors.Join(errs...)
	}
	if d != nil {
		ids := make([]string, 0, len(d.why))
		for id := range d.why {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			add(state.Event{Kind: "drift", ObjectID: id, Name: d.names[id], Result: "found", Detail: d.why[id] + ": corrected by this run's plan"})
		}
		if d.groups != nil {
			d.groups.log(add)
		}
	}
	for _, u := range rec.Unmanaged {
		add(state.Event{Kind: "unmanaged", ObjectID: u.TargetID, Name: u.UserName, Result: "reported", Detail: u.describe()})
	}
	add(state.Event{Kind: "reconcile", Result: "listed", Detail: rec.Summary()})
	return errors.Join(errs...)
}

func (u Unmanaged) describe() string {
	switch u.Action {
	case "adopt":
		return "not managed by idsync; an in-scope IdP user of that name is created and takes it over"
	case "disable":
		return "not managed by idsync; disabled (unmanaged: disable)"
	}
	if !u.Active {
		return "not managed by idsync; inactive, left alone"
	}
	return "not managed by idsync; left alone (unmanaged: report)"
}

// Summary is one line for status and the log.
func (r *Reconcile) Summary() string {
	if r.Error != "" {
		return r.Error
	}
	s := fmt.Sprintf("listed %d workspace accounts: %d managed changed or deleted by hand, %d unmanaged", r.Listed, r.Corrected, len(r.Unmanaged))
	if len(r.Unmanaged) > 0 {
		var names []string
		for i, u := range r.Unmanaged {
			if i == 5 {
				names = append(names, fmt.Sprintf("and %d more", len(r.Unmanaged)-5))
				break
			}
			names = append(names, u.UserName)
		}
		s += " (" + strings.Join(names, ", ") + "; unmanaged: " + r.Policy + ")"
	}
	switch {
	case r.GroupsError != "":
		s += "; " + r.GroupsError
	case r.GroupsListed > 0 || r.GroupsCorrected > 0:
		s += fmt.Sprintf("; listed %d groups: %d managed changed or deleted by hand, %d unmanaged (left alone)", r.GroupsListed, r.GroupsCorrected, len(r.UnmanagedGroups))
	}
	return s
}

// reconcileTx compares ls with the applied state in the plan's
// transaction and records the drift there (nil, nil without a listing).
func (c *Connection) reconcileTx(tx *state.Tx, ls *listing) (*drift, error) {
	if ls == nil {
		return nil, nil
	}
	d, err := c.compare(tx, ls)
	if err != nil {
		return nil, err
	}
	return d, d.record(tx, c.Name)
}

// explain finishes the plan with the drift (see finish) and, for a real
// run (runID > 0), records it in the provisioning log.
func (c *Connection) explain(tx *state.Tx, runID int64, d *drift, plan *idsync.Plan, rec *Reconcile) error {
	if rec == nil {
		return nil
	}
	if d != nil {
		c.finish(d, plan, rec)
	}
	if runID == 0 {
		return nil
	}
	return logReconcile(tx, c.Name, runID, d, rec)
}

// disablesUnmanaged reports whether plan disables unmanaged accounts: its
// approval lists the workspace again, so the re-plan has them too.
func disablesUnmanaged(plan idsync.Plan) bool {
	return slices.ContainsFunc(plan.Ops, func(o idsync.Op) bool { return o.Unmanaged != "" })
}
