package main

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/idsync/idsync/sources/entra/entratest"
)

// person is the harness's own record of one directory user: what the tenant
// holds, so the expected workspace can be computed without trusting idsync.
type person struct {
	user  entratest.User
	state string // live | soft | hard
	scope bool   // direct member of the scope group
	admin bool   // direct member of the admin group
}

// tenant drives the emulated Entra tenant and mirrors every change it makes.
type tenant struct {
	srv            *entratest.Server
	rng            *rand.Rand
	scope, admins  string // group ids
	people         map[string]*person
	order          []string // ids in hire order, for seeded picks
	hired, renamed int
}

const (
	scopeGroup = "Soak Users"
	adminGroup = "Soak Admins"
	domain     = "soak.test"
)

func newTenant(srv *entratest.Server, rng *rand.Rand, users int) (*tenant, error) {
	t := &tenant{srv: srv, rng: rng, people: map[string]*person{}}
	t.scope = srv.AddGroup(scopeGroup, "users idsync provisions")
	t.admins = srv.AddGroup(adminGroup, "workspace admins")
	for range users {
		if err := t.hire(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// hire adds a user: nine in ten in scope, one in ten of those an admin,
// one in twenty disabled from the start.
func (t *tenant) hire() error {
	t.hired++
	n := t.hired
	name := fmt.Sprintf("user%05d", n)
	u := entratest.User{UserPrincipalName: name + "@" + domain, Mail: name + "@" + domain, GivenName: "Given" + name[4:],
		Surname: "Family" + name[4:], DisplayName: "User " + name[4:], AccountEnabled: t.rng.IntN(20) != 0,
		JobTitle: "Title 0", Department: "Dept"}
	id := t.srv.AddUser(u)
	u.ID = id
	p := &person{user: u, state: "live"}
	t.people[id] = p
	t.order = append(t.order, id)
	if t.rng.IntN(10) != 0 {
		if err := t.setScope(p, true); err != nil {
			return err
		}
		if t.rng.IntN(10) == 0 {
			return t.setAdmin(p, true)
		}
	}
	return nil
}

func (t *tenant) setScope(p *person, in bool) error {
	p.scope = in
	if in {
		return t.srv.AddMember(t.scope, p.user.ID)
	}
	return t.srv.RemoveMember(t.scope, p.user.ID)
}

func (t *tenant) setAdmin(p *person, in bool) error {
	p.admin = in
	if in {
		return t.srv.AddMember(t.admins, p.user.ID)
	}
	return t.srv.RemoveMember(t.admins, p.user.ID)
}

// update applies f to the tenant's user and to the harness's record of it
// (f runs twice: it must be deterministic).
func (t *tenant) update(p *person, f func(*entratest.User)) error {
	f(&p.user)
	return t.srv.UpdateUser(p.user.ID, f)
}

// mutate makes n random changes of every kind the engine handles.
func (t *tenant) mutate(n int) (kinds map[string]int, err error) {
	kinds = map[string]int{}
	for range n {
		kind, err := t.mutateOne()
		if err != nil {
			return kinds, fmt.Errorf("%s: %w", kind, err)
		}
		kinds[kind]++
	}
	return kinds, nil
}

func (t *tenant) pick(state string) *person {
	for range 50 {
		p := t.people[t.order[t.rng.IntN(len(t.order))]]
		if p.state == state {
			return p
		}
	}
	return nil
}

func (t *tenant) mutateOne() (string, error) {
	kinds := []string{"hire", "title", "rename", "disable", "enable", "soft-delete", "restore", "hard-delete",
		"scope-out", "scope-in", "promote", "demote"}
	kind := kinds[t.rng.IntN(len(kinds))]
	if kind == "hire" {
		return kind, t.hire()
	}
	want := "live"
	if kind == "restore" {
		want = "soft"
	}
	p := t.pick(want)
	if p == nil {
		return "none", nil
	}
	switch kind {
	case "title":
		title := fmt.Sprintf("Title %d", t.rng.IntN(1000))
		return kind, t.update(p, func(u *entratest.User) { u.JobTitle = title })
	case "rename":
		// A fresh name: userName reuse between people is its own test
		// (adoption by identity), not what the soak measures.
		t.renamed++
		name := fmt.Sprintf("renamed%05d", t.renamed)
		return kind, t.update(p, func(u *entratest.User) {
			u.UserPrincipalName, u.Mail, u.Surname = name+"@"+domain, name+"@"+domain, "Renamed"+name[7:]
		})
	case "disable":
		return kind, t.update(p, func(u *entratest.User) { u.AccountEnabled = false })
	case "enable":
		return kind, t.update(p, func(u *entratest.User) { u.AccountEnabled = true })
	case "soft-delete":
		p.state = "soft"
		return kind, t.srv.SoftDeleteUser(p.user.ID)
	case "restore":
		p.state = "live"
		return kind, t.srv.RestoreUser(p.user.ID)
	case "hard-delete":
		p.state, p.scope, p.admin = "hard", false, false // memberships go with the user
		return kind, t.srv.HardDeleteUser(p.user.ID)
	case "scope-out", "scope-in":
		if p.scope == (kind == "scope-in") {
			return "none", nil
		}
		return kind, t.setScope(p, kind == "scope-in")
	case "promote", "demote":
		if p.admin == (kind == "promote") {
			return "none", nil
		}
		return kind, t.setAdmin(p, kind == "promote")
	}
	return kind, fmt.Errorf("unknown mutation %q", kind)
}

// ids returns every id the tenant ever had, sorted.
func (t *tenant) ids() []string {
	out := slices.Clone(t.order)
	slices.Sort(out)
	return out
}
