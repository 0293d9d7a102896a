package scim

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/idsync/idsync"
)

// preset is what one app's SCIM endpoint accepts, from its vendor's docs.
type preset struct {
	// attrs are the profile attributes (idsync.Attr*) sent; userName is
	// always sent, as are externalId and active.
	attrs []string
	// roles are the role values the app knows; nil = any, empty = the app
	// has no roles over SCIM.
	roles []string
	// lower: userName and emails are sent lower-cased.
	lower bool
	// keepDefaultRole: an empty role sends nothing, so the account keeps the
	// role the workspace gives by default (or an admin set).
	keepDefaultRole bool
	// neverDelete: a delete makes the person "former" (active=false) instead.
	neverDelete bool
	// rolesOnly: the role can only go in roles (role_attribute is fixed).
	rolesOnly bool
}

var allAttrs = []string{
	idsync.AttrUserName, idsync.AttrEmail, idsync.AttrGivenName, idsync.AttrFamilyName,
	idsync.AttrDisplayName, idsync.AttrEmployeeID, idsync.AttrTitle, idsync.AttrDepartment,
}

var presets = map[string]preset{
	// Plain RFC 7643: core user plus the enterprise extension.
	"generic": {attrs: allAttrs},
	// Whale documents userName, active, name.givenName, name.familyName,
	// externalId and roles reader/writer/admin; anything else is a 400.
	"whale": {
		attrs:     []string{idsync.AttrUserName, idsync.AttrGivenName, idsync.AttrFamilyName},
		roles:     []string{"reader", "writer", "admin"},
		rolesOnly: true,
	},
	// Whimsical matches people by lower-case email; roles editor/viewer, and
	// a user without a role gets the workspace's default.
	"whimsical": {
		attrs:           []string{idsync.AttrUserName, idsync.AttrEmail, idsync.AttrGivenName, idsync.AttrFamilyName, idsync.AttrDisplayName},
		roles:           []string{"editor", "viewer"},
		lower:           true,
		keepDefaultRole: true,
		rolesOnly:       true,
	},
	// Whistleblower is plain SCIM; it disables on unassignment and deletes on
	// permanent deletion, which is the engine's default deprovision policy.
	"whistleblower": {attrs: allAttrs},
	// OfficeRnD keeps people as "former" members and maps groups to teams
	// (the first team a member joins is the primary one).
	"officernd": {
		attrs:       []string{idsync.AttrUserName, idsync.AttrEmail, idsync.AttrGivenName, idsync.AttrFamilyName, idsync.AttrDisplayName, idsync.AttrTitle},
		roles:       []string{},
		neverDelete: true,
	},
}

func presetNames() []string {
	var out []string
	for n := range presets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (p preset) accepts(attr string) bool { return slices.Contains(p.attrs, attr) }

// shape returns a as the app should see it: unaccepted attributes cleared,
// userName and email lower-cased where the app wants that.
func (p preset) shape(a idsync.Account) idsync.Account {
	if p.lower {
		a.UserName = strings.ToLower(a.UserName)
		a.Email = strings.ToLower(a.Email)
	}
	for _, f := range allAttrs {
		if !p.accepts(f) {
			setAttr(&a, f, "")
		}
	}
	return a
}

// checkRole rejects role values the app does not know.
func (p preset) checkRole(name, role string) error {
	if role == "" || p.roles == nil || slices.Contains(p.roles, role) {
		return nil
	}
	if len(p.roles) == 0 {
		return fmt.Errorf("role %q: preset %s takes no roles (leave roles.default and role rules empty)", role, name)
	}
	return fmt.Errorf("role %q is not accepted by preset %s (one of: %s)", role, name, strings.Join(p.roles, ", "))
}

// ValidRole reports whether role can be sent to this workspace, so that
// `config check` can reject roles.default and role rules early. "" (no role)
// is always valid.
func (c *Client) ValidRole(role string) error {
	return c.preset.checkRole(c.presetName, role)
}

// Roles lists the role values the preset accepts; nil means any.
func (c *Client) Roles() []string { return slices.Clone(c.preset.roles) }

func attr(a idsync.Account, name string) string {
	switch name {
	case idsync.AttrUserName:
		return a.UserName
	case idsync.AttrEmail:
		return a.Email
	case idsync.AttrGivenName:
		return a.GivenName
	case idsync.AttrFamilyName:
		return a.FamilyName
	case idsync.AttrDisplayName:
		return a.DisplayName
	case idsync.AttrEmployeeID:
		return a.EmployeeID
	case idsync.AttrTitle:
		return a.Title
	case idsync.AttrDepartment:
		return a.Department
	}
	return ""
}

func setAttr(a *idsync.Account, name, v string) {
	switch name {
	case idsync.AttrUserName:
		a.UserName = v
	case idsync.AttrEmail:
		a.Email = v
	case idsync.AttrGivenName:
		a.GivenName = v
	case idsync.AttrFamilyName:
		a.FamilyName = v
	case idsync.AttrDisplayName:
		a.DisplayName = v
	case idsync.AttrEmployeeID:
		a.EmployeeID = v
	case idsync.AttrTitle:
		a.Title = v
	case idsync.AttrDepartment:
		a.Department = v
	}
}
