package main

import (
	"net/http"
	"testing"
)

// TestPushedUserNameMovesToAnotherUser: Entra renames alice's account
// (alice@ → alice.old@) and pushes a new person as alice@, both before
// idsync's next run. Identity is the listener's id: the workspace account
// stays alice's (renamed), and the newcomer gets an account of its own,
// never alice's. (When the plan's create runs before the rename, it fails
// on the conflict and waits for the next run: the schedule's, or here a
// `sync`. A push-triggered retry would be seconds sooner; not done.)
func TestPushedUserNameMovesToAnotherUser(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	p := newPushE2E(t, "", "initech")
	p.start()
	tok := p.token("initech")
	code, first := p.call("initech", tok, "POST", "/Users", entraUser("alice@initech.test", "e-1"))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, first)
	}
	id1 := first["id"].(string)
	waitFor(t, "alice in the workspace", func() bool { return len(p.ws["initech"].Users()) == 1 })
	wsAlice := p.ws["initech"].Users()[0].ID

	rename := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"userName","value":"alice.old@initech.test"}]}`
	if code, out := p.call("initech", tok, "PATCH", "/Users/"+id1, rename); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("rename: %d %v", code, out)
	}
	code, second := p.call("initech", tok, "POST", "/Users", entraUser("alice@initech.test", "e-2"))
	if code != http.StatusCreated {
		t.Fatalf("create the newcomer: %d %v", code, second)
	}
	id2 := second["id"].(string)
	if id1 == id2 {
		t.Fatal("the newcomer got alice's id")
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, u := range p.ws["initech"].Users() {
				t.Logf("workspace: %s %s ext=%s active=%v", u.ID, u.UserName, u.ExternalID, u.Active)
			}
			t.Logf("alice=%s newcomer=%s\n%s", id1, id2, p.daemon.log.String())
		}
	})
	waitFor(t, "the renamed account and the newcomer's run", func() bool {
		us := p.ws["initech"].Users()
		return len(us) >= 1 && us[0].UserName == "alice.old@initech.test"
	})
	for _, u := range p.ws["initech"].Users() {
		if u.ID == wsAlice && u.ExternalID != id1 {
			t.Fatalf("alice's account handed over: %+v", u)
		}
	}
	p.must("sync", "initech")
	waitFor(t, "two accounts, each its own", func() bool {
		us := p.ws["initech"].Users()
		if len(us) != 2 {
			return false
		}
		for _, u := range us {
			switch u.ExternalID {
			case id1:
				if u.ID != wsAlice || u.UserName != "alice.old@initech.test" {
					return false
				}
			case id2:
				if u.ID == wsAlice || u.UserName != "alice@initech.test" {
					return false
				}
			default:
				return false
			}
		}
		return true
	})
}
