package scim

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
)

// preset is what one app's SCIM endpoint accepts, from its vendor's setup
// guide (shared/seeds; the guide wins over anything else). Each rule that
// refuses something carries the guide's reason, for `idsync config check`.
type preset struct {
	// app is the workspace's name as its vendor writes it, for messages.
	app string
	// attrs are the profile attributes (idsync.Attr*) sent; userName is
	// always sent, as are externalId and active.
	attrs []string
	// createOnly are attributes sent only when the account is created:
	// afterwards the person owns them, so updates and adoption leave them.
	createOnly []string
	// roles are the role values the app knows; nil = any, empty = the app
	// has no roles over SCIM (noRoles says why). rolesFrom quotes the guide.
	roles     []string
	rolesFrom string
	noRoles   string
	// lower: userName and emails are sent lower-cased.
	lower bool
	// keepDefaultRole: an empty role sends nothing, so the account keeps the
	// role the workspace gives by default (or an admin set).
	keepDefaultRole bool
	// neverDelete: a delete makes the person "former" (active=false)
	// instead, so a deprovision action "delete" is refused (noDelete says why).
	neverDelete bool
	noDelete    string
	// rolesOnly: the role can only go in roles (role_attribute is fixed).
	rolesOnly bool
	// noGroups, when set, is why the app takes no groups (groups.sync).
	noGroups string
	// traits the engine plans by (team order, descriptions, scope).
	traits targets.Traits
}

var allAttrs = []string{
	idsync.AttrUserName, idsync.AttrEmail, idsync.AttrGivenName, idsync.AttrFamilyName,
	idsync.AttrDisplayName, idsync.AttrEmployeeID, idsync.AttrTitle, idsync.AttrDepartment,
}

// The guides, by file in shared/seeds: 000 Whale, 001 Whimsical, 002
// Whistleblower Software, 003 Microsoft's Whimsical tutorial, 004 OfficeRnD.
var presets = map[string]preset{
	// Plain RFC 7643: core user plus the enterprise extension, and groups.
	"generic": {app: "the workspace", attrs: allAttrs},
	// Whale (000): "Only the attributes 'userName', 'active',
	// 'name.givenName', 'name.familyName' and 'externalId' are required" —
	// no role attribute (the Reader/Writer/Admin line on the page is who may
	// use the feature), users only; "If you delete someone from Entra, they
	// will also be deleted from Whale".
	"whale": {
		app:      "Whale",
		attrs:    []string{idsync.AttrUserName, idsync.AttrGivenName, idsync.AttrFamilyName},
		roles:    []string{},
		noRoles:  `its guide maps only "'userName', 'active', 'name.givenName', 'name.familyName' and 'externalId'" (the Reader/Writer/Admin line on the page says who may set up SCIM, not roles it takes)`,
		noGroups: `its guide provisions users only: the attributes it takes are "'userName', 'active', 'name.givenName', 'name.familyName' and 'externalId'", and no group mapping`,
	},
	// Whimsical (001, 003): "Update user roles (editor / viewer)"; "If the
	// editor role is set to undefined, the user will be provisioned with the
	// default role"; "Email addresses must be sent to Whimsical in lower
	// case"; "After user creation, given name and family name fields can
	// only be updated by the users themselves"; users only ("Add users,
	// Remove users, Update user roles, Import workspace members"); and,
	// from Microsoft's tutorial, "Users with the Default Access role are
	// excluded from provisioning".
	"whimsical": {
		app:             "Whimsical",
		attrs:           []string{idsync.AttrUserName, idsync.AttrEmail, idsync.AttrGivenName, idsync.AttrFamilyName, idsync.AttrDisplayName},
		createOnly:      []string{idsync.AttrGivenName, idsync.AttrFamilyName},
		roles:           []string{"editor", "viewer"},
		rolesFrom:       `"Update user roles (editor / viewer)"`,
		lower:           true,
		keepDefaultRole: true,
		rolesOnly:       true,
		noGroups:        `its guide lists what SCIM does as "Add users", "Remove users", "Update user roles (editor / viewer)" and "Import workspace members": no groups`,
		traits:          targets.Traits{AssignedRoleRequired: true},
	},
	// Whistleblower Software (002): users only; "If a user is removed from
	// the assigned group they will be disabled, and if they are permanently
	// deleted in Entra ID they will be removed" (the default deprovision
	// policy); "Permissions cannot be configured during the provisioning
	// process itself".
	"whistleblower": {
		app:      "Whistleblower Software",
		attrs:    allAttrs,
		roles:    []string{},
		noRoles:  `"Permissions cannot be configured during the provisioning process itself": users get base permissions, changed afterwards on its Users page`,
		noGroups: `its guide provisions users only ("users assigned to the application in Entra ID will be provisioned"); groups only decide who is assigned`,
	},
	// OfficeRnD Workplace (004): users keep only userName, active,
	// displayName and externalId ("Delete all irrelevant"); someone deleted
	// "will not be deleted from Workplace but will be labeled as Former";
	// groups are teams (displayName, externalId, members — users only — and
	// an optional description), and "The first synced Azure group will be
	// their Primary team".
	"officernd": {
		app:         "OfficeRnD",
		attrs:       []string{idsync.AttrUserName, idsync.AttrDisplayName},
		roles:       []string{},
		noRoles:     `its guide keeps only the userName, active, displayName and externalId mappings ("Delete all irrelevant")`,
		neverDelete: true,
		noDelete:    `someone deleted from the directory "will not be deleted from Workplace but will be labeled as Former"; idsync sets active: false instead of deleting`,
		traits:      targets.Traits{OrderedMembers: true, GroupDescriptions: true},
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

// updatable reports whether attr may be sent to an existing account.
func (p preset) updatable(attr string) bool {
	return p.accepts(attr) && !slices.Contains(p.createOnly, attr)
}

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
		return fmt.Errorf("role %q: %s (preset %s) takes no roles over SCIM: %s; remove roles.default and roles.rules", role, p.app, name, p.noRoles)
	}
	return fmt.Errorf("role %q is not a %s role (preset %s): its guide has %s; use one of %s, or no role for the workspace's default",
		role, p.app, name, p.rolesFrom, strings.Join(p.roles, ", "))
}

// ValidRole reports whether role can be sent to this workspace, so that
// `config check` can reject roles.default and role rules early. "" (no role)
// is always valid.
func (c *Client) ValidRole(role string) error {
	return c.preset.checkRole(c.presetName, role)
}

// Roles lists the role values the preset accepts; nil means any.
func (c *Client) Roles() []string { return slices.Clone(c.preset.roles) }

// ValidGroupSync reports whether groups may be pushed to this workspace
// (groups.sync), with the guide's reason when not.
func (c *Client) ValidGroupSync() error {
	if c.preset.noGroups == "" {
		return nil
	}
	return fmt.Errorf("%s (preset %s) takes no groups over SCIM: %s; remove groups.sync", c.preset.app, c.presetName, c.preset.noGroups)
}

// ValidDeprovision reports whether a deprovision action can be carried out
// as written: a workspace that never deletes refuses "delete".
func (c *Client) ValidDeprovision(action string) error {
	if action != "delete" || !c.preset.neverDelete {
		return nil
	}
	return fmt.Errorf("%s (preset %s) never deletes people over SCIM: %s; use disable (deleted defaults to delete: write deleted: disable)", c.preset.app, c.presetName, c.preset.noDelete)
}

// Traits are the workspace's documented traits; see targets.Traits.
func (c *Client) Traits() targets.Traits { return c.preset.traits }

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
