package sync

import (
	"slices"
	"strings"

	"github.com/idsync/idsync"
)

// want is what the workspace should do with one user's account.
type want int

const (
	wantNone     want = iota // no account; do not create one
	wantActive               // an active account
	wantInactive             // an account, disabled
	wantAbsent               // no account; delete one that exists
	wantLeave                // leave whatever is there alone
)

// desired is the engine's decision for one user.
type desired struct {
	want    want
	account idsync.Account // when wantActive (and the basis of disable)
	reason  string         // why access is taken away, for people
	groups  []string       // pushed groups the account belongs in
	// explanation, for `idsync explain`
	inScope   bool
	scopeWhy  string
	ruleIndex int // matched role rule, -1 for the default
}

// facts is what the snapshot says about one user.
type facts struct {
	id          string
	user        *idsync.User // nil: not in the snapshot
	directGroup []string
	roles       []string // app roles, directly and through direct groups
	assigned    bool     // has an app assignment that puts the user in scope
	// defaultAccessOnly: assigned only with Entra's Default Access, which
	// the workspace excludes from provisioning (targets.Traits).
	defaultAccessOnly bool
}

// decide applies the policy to one user.
func (c *Connection) decide(g *graph, f facts) desired {
	p := c.Policy
	d := desired{ruleIndex: -1}
	u := f.user
	if u == nil || u.Removed == idsync.RemovalHard {
		d.reason = "deleted in " + c.idpName()
		d.want = act(p.Deprovision.Deleted)
		return d
	}
	d.inScope, d.scopeWhy = c.scoped(g, f)
	switch {
	case u.Removed == idsync.RemovalSoft:
		d.reason = "in the " + c.idpName() + " recycle bin"
		d.want = act(p.Deprovision.SoftDeleted)
	case !d.inScope:
		d.reason = "out of scope: " + d.scopeWhy
		d.want = act(p.Deprovision.OutOfScope)
	case u.Status == idsync.StatusDisabled:
		d.reason = "account disabled in " + c.idpName()
		d.want = act(p.Deprovision.Disabled)
	case u.Status == idsync.StatusStaged:
		// Not yet activated in the IdP: no account yet, but nothing to take away either.
		d.reason = "staged in " + c.idpName()
		d.want = wantLeave
	default:
		d.want = wantActive
	}
	role := p.DefaultRole
	d.ruleIndex = c.firstRule(g, f)
	if d.ruleIndex >= 0 {
		role = p.Rules[d.ruleIndex].Role
	}
	d.account = account(*u, role)
	if d.want == wantActive || d.want == wantInactive {
		for _, gid := range f.directGroup {
			d.groups = append(d.groups, g.pushedGroups(gid)...)
		}
		slices.Sort(d.groups)
		d.groups = slices.Compact(d.groups)
	}
	return d
}

// scoped decides scope: membership (at any depth) of a scope group and/or
// an app assignment (direct, or through a group the user is directly in —
// Entra's and Okta's rule). With both configured, both must hold.
func (c *Connection) scoped(g *graph, f facts) (bool, string) {
	s := c.Policy.Scope
	if len(s.Groups) > 0 {
		in := false
		for _, gid := range f.directGroup {
			if g.inScope(gid) {
				in = true
				break
			}
		}
		if !in {
			return false, "not a member of " + strings.Join(s.Groups, ", ")
		}
	}
	if s.AppID != "" && !f.assigned {
		if f.defaultAccessOnly {
			return false, "assigned to app " + s.AppID + " only with the Default Access role, which this workspace excludes from provisioning (assign a role)"
		}
		return false, "not assigned to app " + s.AppID
	}
	if s.All() {
		return true, "every user is in scope"
	}
	return true, "in scope"
}

// firstRule returns the index of the first matching role rule, or -1.
func (c *Connection) firstRule(g *graph, f facts) int {
	best := len(c.Policy.Rules)
	for _, gid := range f.directGroup {
		best = min(best, g.firstRule(gid))
	}
	for i, r := range c.Policy.Rules[:best] {
		if r.AppRole != "" && slices.Contains(f.roles, r.AppRole) {
			best = i
			break
		}
	}
	if best == len(c.Policy.Rules) {
		return -1
	}
	return best
}

func act(a Action) want {
	switch a {
	case ActionDelete:
		return wantAbsent
	case ActionIgnore:
		return wantLeave
	}
	return wantInactive
}

// account shapes a directory user into the workspace account idsync wants.
func account(u idsync.User, role string) idsync.Account {
	display := u.DisplayName
	if display == "" {
		display = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	}
	return idsync.Account{
		ExternalID:  u.ID,
		UserName:    strings.TrimSpace(u.UserName),
		Email:       strings.TrimSpace(u.Email),
		GivenName:   u.GivenName,
		FamilyName:  u.FamilyName,
		DisplayName: display,
		EmployeeID:  u.EmployeeID,
		Title:       u.Title,
		Department:  u.Department,
		Active:      true,
		Role:        role,
	}
}
