package okta

import (
	"strings"

	"github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/idsync/idsync"
)

// statusOf maps Okta's user status. Unknown statuses count as disabled:
// granting access on a status idsync does not understand would be worse
// than holding it back (safety limits catch a mass change).
func statusOf(s string) idsync.Status {
	switch s {
	case "ACTIVE", "PROVISIONED", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT":
		return idsync.StatusActive
	case "STAGED":
		return idsync.StatusStaged
	}
	return idsync.StatusDisabled // SUSPENDED, DEPROVISIONED, anything new
}

// userDoc is the part of an Okta user idsync reads: the status and the base
// profile attributes (all strings in Okta's base schema; null decodes as "").
type userDoc struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Profile struct {
		Login          string `json:"login"`
		Email          string `json:"email"`
		FirstName      string `json:"firstName"`
		LastName       string `json:"lastName"`
		DisplayName    string `json:"displayName"`
		EmployeeNumber string `json:"employeeNumber"`
		Title          string `json:"title"`
		Department     string `json:"department"`
	} `json:"profile"`
}

type idDoc struct {
	ID string `json:"id"`
}

func (u *userDoc) user() idsync.User {
	p := &u.Profile
	out := idsync.User{
		ID:          u.ID,
		UserName:    p.Login,
		Email:       p.Email,
		GivenName:   p.FirstName,
		FamilyName:  p.LastName,
		DisplayName: p.DisplayName,
		EmployeeID:  p.EmployeeNumber,
		Title:       p.Title,
		Department:  p.Department,
		Status:      statusOf(u.Status),
	}
	if out.DisplayName == "" {
		// displayName is optional in Okta's base profile and often empty.
		out.DisplayName = strings.TrimSpace(out.GivenName + " " + out.FamilyName)
	}
	return out
}

func toGroup(g *okta.Group) idsync.Group {
	out := idsync.Group{ID: g.Id}
	if g.Profile != nil {
		out.Name, out.Description = g.Profile.Name, g.Profile.Description
	}
	return out
}

// roles reads the role attribute of an app user or app group profile: a
// string, or an array for multi-valued attributes. No value is plain access.
func roles(profile any, attr string) []string {
	p, _ := profile.(map[string]any)
	switch v := p[attr].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return []string{""}
}

func assigned(principal string, kind idsync.MemberKind, profile any, attr string) []idsync.Change {
	var out []idsync.Change
	for _, r := range roles(profile, attr) {
		out = append(out, idsync.AssignedChange(idsync.Assignment{PrincipalID: principal, PrincipalKind: kind, Role: r}))
	}
	return out
}
