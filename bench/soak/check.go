package main

import (
	"fmt"
	"strings"

	"github.com/idsync/idsync/targets/scim/scimtest"
)

// verdict compares the workspace with what the tenant says it must hold
// under the soak's policy (scope group, admin rule, default deprovision:
// disabled / out of scope / recycle bin → disable, permanent delete → delete).
// Under that policy an account, once created, disappears only when its
// user is permanently deleted; seen holds every externalId the workspace
// ever had an account for (sampled after every run).
type verdict struct {
	Accounts   int      `json:"accounts"`
	Active     int      `json:"active"`
	Duplicates int      `json:"duplicates"` // extra accounts for one IdP user or one userName
	Strays     int      `json:"strays"`     // accounts of no IdP user the tenant ever had
	Wrong      []string `json:"wrong,omitempty"`
}

func (v verdict) ok() bool { return v.Duplicates == 0 && v.Strays == 0 && len(v.Wrong) == 0 }

func check(t *tenant, users []scimtest.User, seen map[string]bool) verdict {
	v := verdict{Accounts: len(users)}
	byExt := map[string][]scimtest.User{}
	names := map[string]int{}
	for _, u := range users {
		byExt[u.ExternalID] = append(byExt[u.ExternalID], u)
		names[strings.ToLower(u.UserName)]++
		if u.Active {
			v.Active++
		}
	}
	for ext, us := range byExt {
		if len(us) > 1 {
			v.Duplicates += len(us) - 1
		}
		if _, ok := t.people[ext]; !ok {
			v.Strays += len(us)
		}
	}
	for _, n := range names {
		if n > 1 {
			v.Duplicates += n - 1
		}
	}
	wrong := func(p *person, format string, args ...any) {
		if len(v.Wrong) < 20 {
			v.Wrong = append(v.Wrong, p.user.UserPrincipalName+" ("+p.user.ID+"): "+fmt.Sprintf(format, args...))
		} else if len(v.Wrong) == 20 {
			v.Wrong = append(v.Wrong, "…")
		}
	}
	for _, id := range t.ids() {
		p := t.people[id]
		have := byExt[id]
		switch {
		case p.state == "hard":
			if len(have) > 0 {
				wrong(p, "permanently deleted in the tenant, but the workspace still has %d account(s)", len(have))
			}
		case p.state == "live" && p.scope && p.user.AccountEnabled:
			if len(have) != 1 {
				wrong(p, "should have exactly one active account, has %d", len(have))
				continue
			}
			a, u := have[0], p.user
			role := "reader"
			if p.admin {
				role = "admin"
			}
			for _, d := range []struct{ field, got, want string }{
				{"userName", a.UserName, u.UserPrincipalName},
				{"name.givenName", a.GivenName, u.GivenName},
				{"name.familyName", a.FamilyName, u.Surname},
				{"displayName", a.DisplayName, u.DisplayName},
				{"email", a.Email, u.Mail},
				{"title", a.Title, u.JobTitle},
				{"role", a.Role(), role},
			} {
				if !strings.EqualFold(d.got, d.want) {
					wrong(p, "%s is %q, want %q", d.field, d.got, d.want)
				}
			}
			if !a.Active {
				wrong(p, "account is disabled, want active")
			}
		case !seen[id]: // never had an account, and must not get one now
			if len(have) > 0 {
				wrong(p, "%s user got an account", describe(p))
			}
		case len(have) != 1:
			wrong(p, "%s user had an account; now has %d (want one, disabled)", describe(p), len(have))
		case have[0].Active:
			wrong(p, "%s user has an active account", describe(p))
		}
	}
	return v
}

func describe(p *person) string {
	switch {
	case p.state == "soft":
		return "soft-deleted"
	case !p.scope:
		return "out-of-scope"
	}
	return "disabled"
}
