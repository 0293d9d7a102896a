package main

import (
	"strings"
	"testing"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// A workspace account that carries another person's externalId is never
// adopted: that user's create fails with a message naming both, shown by
// the log and explain, and everyone else is applied.
func TestAdoptionConflictFailsOnlyThatUser(t *testing.T) {
	e := newE2E(t, noLimits)
	theirs := e.ws.AddUser(scimtest.User{UserName: "bob.baker@contoso.test", ExternalID: "aaa-111", GivenName: "Robert", Active: false})
	r := e.idsync("sync")
	if r.code != exitError || !strings.Contains(r.stdout, "applied 10, failed 1") || !strings.Contains(r.stderr, "1 ops failed") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if u, _ := e.ws.User(theirs.ID); u.ExternalID != "aaa-111" || u.Active || u.GivenName != "Robert" {
		t.Fatalf("the other person's account changed: %+v", u)
	}
	if got := e.workspace(); len(got) != 11 {
		t.Fatalf("workspace %v", got)
	}
	bob := e.user("bob.baker")
	msg := `userName "bob.baker@contoso.test" belongs to workspace user ` + theirs.ID + ` with externalId "aaa-111" (another IdP user); idsync will not take it over for "` +
		bob + `": rename or remove one of them in the workspace`
	if lg := e.must([]string{"log", "--user", "bob.baker@contoso.test"}); !strings.Contains(lg.stdout, "failed") || !strings.Contains(lg.stdout, msg) {
		t.Fatalf("log lacks the conflict %q:\n%s", msg, lg.stdout)
	}
	x := e.must([]string{"explain", "contoso", "bob.baker@contoso.test"})
	for _, want := range []string{"applied   no account", "next run  create", "create   failed", msg} {
		if !strings.Contains(x.stdout, want) {
			t.Fatalf("explain lacks %q:\n%s", want, x.stdout)
		}
	}
	// Once an admin removes the other account, bob gets his own.
	if ok := e.ws.EditUser(theirs.ID, func(raw map[string]any) { raw["userName"] = "robert.baker@elsewhere.test" }); !ok {
		t.Fatal("no such workspace user")
	}
	e.must([]string{"sync"})
	if u, ok := e.ws.UserByName("bob.baker@contoso.test"); !ok || u.ExternalID != bob || u.ID == theirs.ID || !u.Active {
		t.Fatalf("bob after the conflict was resolved: %+v", u)
	}
}

// userName reuse: A is renamed and disabled, B is hired with A's old
// userName. B never gets A's account (a clear conflict while A's account
// holds the name), and deleting A later never touches B's account.
func TestUserNameReuseNeverTakesOverAnAccount(t *testing.T) {
	e := newE2E(t, noLimits)
	e.must([]string{"sync"})
	const name = "alice.archer@contoso.test"
	a := e.user("alice.archer")
	x, ok := e.ws.UserByName(name)
	if !ok || x.ExternalID != a {
		t.Fatalf("A's account %+v", x)
	}
	if err := e.tenant.UpdateUser(a, func(u *entratest.User) {
		u.UserPrincipalName, u.Mail, u.AccountEnabled = "alice.old@contoso.test", "alice.old@contoso.test", false
	}); err != nil {
		t.Fatal(err)
	}
	b := e.tenant.AddUser(entratest.User{UserPrincipalName: name, Mail: name, GivenName: "Alicia", Surname: "Archer", AccountEnabled: true})
	if err := e.tenant.AddMember(e.sample.Groups["Engineering"], b); err != nil {
		t.Fatal(err)
	}

	r := e.idsync("sync")
	if r.code != exitError || !strings.Contains(r.stdout, "applied 1, failed 1") {
		t.Fatalf("B's create must fail, A's disable apply: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if u, _ := e.ws.User(x.ID); u.ExternalID != a || u.Active || u.GivenName != "Alice" {
		t.Fatalf("A's account after B's hire: %+v, want A's, disabled", u)
	}
	xp := e.must([]string{"explain", "contoso", b})
	if !strings.Contains(xp.stdout, `belongs to workspace user `+x.ID+` with externalId "`+a+`"`) || !strings.Contains(xp.stdout, `for "`+b+`"`) {
		t.Fatalf("explain of B lacks the conflict:\n%s", xp.stdout)
	}

	// A is deleted in Entra: A's own account goes; B's create still meets it
	// (creates run before deletes) and lands on the next run, as B's own.
	if err := e.tenant.HardDeleteUser(a); err != nil {
		t.Fatal(err)
	}
	e.idsync("sync")
	if _, ok := e.ws.User(x.ID); ok {
		t.Fatalf("A's account survived A's delete")
	}
	e.must([]string{"sync"})
	u, ok := e.ws.UserByName(name)
	if !ok || u.ExternalID != b || !u.Active || u.ID == x.ID || u.GivenName != "Alicia" {
		t.Fatalf("B's account: %+v", u)
	}
	// Nothing more to do, and B's account is still there.
	if r := e.must([]string{"sync", "--detailed-exitcode"}); !strings.Contains(r.stdout, "0 to create, 0 to update") {
		t.Fatalf("plan after convergence:\n%s", r.stdout)
	}
	if v, ok := e.ws.User(u.ID); !ok || !v.Active || v.ExternalID != b {
		t.Fatalf("B's account after convergence: %+v", v)
	}
}
