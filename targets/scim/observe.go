package scim

import (
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
)

var _ targets.Observer = (*Client)(nil)

// Observed is applied corrected by what the workspace lists for the same
// account, in what the preset sends to an existing account: activity, the
// role where one was sent, and the updatable attributes. The rest keep
// their applied values: attributes the app does not take (OfficeRnD keeps
// only userName and displayName), and those that belong to the person
// after creation (Whimsical's given and family names), so changes there
// are never "corrected". Values are compared as the preset shapes them
// (Whimsical lower-cases userName and emails), and userName and emails
// case-insensitively (RFC 7643 §4.1.1: userName is not case-exact), so an
// account as idsync left it never shows as drifted.
func (c *Client) Observed(applied, listed idsync.Account) idsync.Account {
	out := applied
	out.Active = listed.Active
	if applied.Role != "" && !strings.EqualFold(applied.Role, listed.Role) {
		// No role sent (Whimsical: the workspace default applies) is
		// nothing to correct; a role sent and changed by hand is.
		out.Role = listed.Role
	}
	shaped := c.preset.shape(applied)
	for _, f := range allAttrs {
		if !c.preset.updatable(f) || c.role.covers(f) {
			continue
		}
		want, have := attr(shaped, f), attr(listed, f)
		same := want == have
		if f == idsync.AttrUserName || f == idsync.AttrEmail {
			same = strings.EqualFold(want, have)
		}
		if !same {
			setAttr(&out, f, have)
		}
	}
	return out
}

var _ targets.Updater = (*Client)(nil)

// Updates lists the changes from applied to want that an update sends: the
// attributes the preset takes on an existing account (not Whimsical's names,
// not what the app does not take, not what role_attribute uses), compared
// as the preset shapes them (Whimsical: a userName differing only in case
// is the same lower-cased userName).
func (c *Client) Updates(applied, want idsync.Account) []idsync.FieldChange {
	have, next := c.preset.shape(applied), c.preset.shape(want)
	var out []idsync.FieldChange
	for _, f := range idsync.DiffAttributes(applied, want) {
		if _, ok := attrPath(f.Field); !ok || !c.preset.updatable(f.Field) || c.role.covers(f.Field) {
			continue
		}
		if attr(have, f.Field) == attr(next, f.Field) {
			continue
		}
		out = append(out, f)
	}
	return out
}
