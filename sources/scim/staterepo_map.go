package scim

import (
	"slices"
	"strings"

	"github.com/idsync/idsync"
)

// snapEnterpriseURN is RFC 7643's enterprise user extension (employeeNumber,
// department), which Entra's and Okta's default mappings fill.
const snapEnterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// UserOf maps a pushed SCIM user to idsync's directory user, the way the
// pull sources map Graph's and Okta's users: id → ID (the listener's id,
// stable), userName, the primary (else work, else first) email, name,
// displayName (given + family when absent, as for Okta), title, the
// enterprise extension's employeeNumber and department. active false —
// Entra's soft delete (IsSoftDeleted) and Okta's deactivation — is
// StatusDisabled, so deprovision.disabled applies; a DELETE is a hard
// removal (StateRepo). active absent is active (RFC 7643 leaves it to the
// service provider; both IdPs always send it).
func UserOf(r *Resource) idsync.User {
	a := r.Attrs
	u := idsync.User{
		ID:          r.ID,
		UserName:    r.UserName,
		Email:       snapPrimaryEmail(a["emails"]),
		DisplayName: snapStr(a["displayName"]),
		Title:       snapStr(a["title"]),
		Status:      idsync.StatusActive,
	}
	if name, ok := a["name"].(map[string]any); ok {
		u.GivenName, u.FamilyName = snapStr(name["givenName"]), snapStr(name["familyName"])
	}
	if ext, ok := a[snapEnterpriseURN].(map[string]any); ok {
		u.EmployeeID, u.Department = snapStr(ext["employeeNumber"]), snapStr(ext["department"])
	}
	if !snapTruthy(a["active"], true) {
		u.Status = idsync.StatusDisabled
	}
	if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	}
	return u
}

// snapRoleValues are the values of a user's roles (RFC 7643 roles; Entra maps
// app role assignments there with SingleAppRoleAssignment or
// AppRoleAssignmentsComplex): they become the user's app role assignments,
// which role rules with app_role match.
func snapRoleValues(r *Resource) []string {
	var out []string
	list, _ := r.Attrs["roles"].([]any)
	for _, v := range list {
		var s string
		switch v := v.(type) {
		case map[string]any:
			s = snapStr(v["value"])
		case string:
			s = v
		}
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// snapUserChanges is what replacing old (nil: none) with u changes in the
// snapshot. ApplyChanges marks the user dirty only when something changed.
func snapUserChanges(old, u *Resource) []idsync.Change {
	changes := []idsync.Change{idsync.UserChange(UserOf(u))}
	var was []string
	if old != nil {
		was = snapRoleValues(old)
	}
	if now := snapRoleValues(u); !slices.Equal(was, now) {
		changes = append(changes, idsync.UnassignedChange(u.ID))
		for _, role := range now {
			changes = append(changes, idsync.AssignedChange(idsync.Assignment{PrincipalID: u.ID, PrincipalKind: idsync.MemberUser, Role: role}))
		}
	}
	return changes
}

// snapGroupOf maps a pushed SCIM group: id and displayName.
func snapGroupOf(g *Resource) idsync.Group {
	return idsync.Group{ID: g.ID, Name: snapStr(g.Attrs["displayName"])}
}

type snapMember struct {
	id    string
	group bool // the sender said "type": "Group"
}

// snapMembers are g's members (RFC 7643 members[].value, with an optional type).
func snapMembers(g *Resource) []snapMember {
	list, _ := g.Attrs["members"].([]any)
	out := make([]snapMember, 0, len(list))
	seen := map[string]bool{}
	for _, m := range list {
		id := snapMemberID(m)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		mm, _ := m.(map[string]any)
		out = append(out, snapMember{id: id, group: strings.EqualFold(snapStr(mm["type"]), "Group")})
	}
	return out
}

func snapMemberID(m any) string {
	switch m := m.(type) {
	case map[string]any:
		return snapStr(m["value"])
	case string:
		return m
	}
	return ""
}

func snapStr(v any) string {
	s, _ := v.(string)
	return s
}

// snapTruthy reads a SCIM boolean, which Entra's default dialect sends as the
// string "True"/"False"; anything else is def.
func snapTruthy(v any, def bool) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		switch strings.ToLower(v) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return def
}

// snapPrimaryEmail is the primary email's value, else the work one's, else the
// first's.
func snapPrimaryEmail(v any) string {
	list, _ := v.([]any)
	var work, first string
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		val := snapStr(m["value"])
		if val == "" {
			continue
		}
		if snapTruthy(m["primary"], false) {
			return val
		}
		if first == "" {
			first = val
		}
		if work == "" && strings.EqualFold(snapStr(m["type"]), "work") {
			work = val
		}
	}
	if work != "" {
		return work
	}
	return first
}
