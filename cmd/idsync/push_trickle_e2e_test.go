package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestPushedTrickledDeactivationsAreHeld: Entra's provisioning service
// sends a mass deactivation (a wrongly scoped app, a deleted group) one
// PATCH per user, at its own pace, slower than the debounce. Each
// triggered run then plans one disable, under any per-run limit: the
// safety limit must still hold the mass before the workspace loses more
// than safety.max_deletes accounts.
func TestPushedTrickledDeactivationsAreHeld(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	p := newPushE2E(t, "    safety: {max_deletes: 2, max_delete_percent: 0}\n", "initech")
	p.start()
	tok := p.token("initech")
	var ids []string
	for i := range 5 {
		code, created := p.call("initech", tok, "POST", "/Users", entraUser(fmt.Sprintf("user%d@initech.test", i), fmt.Sprintf("e-%d", i)))
		if code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, created)
		}
		ids = append(ids, created["id"].(string))
	}
	waitFor(t, "5 users in the workspace", func() bool { return len(p.workspace("initech")) == 5 })
	disabled := func() int {
		n := 0
		for _, active := range p.workspace("initech") {
			if !active {
				n++
			}
		}
		return n
	}
	held := func() bool { return strings.Contains(p.must("status").stdout, "HELD") }
	for i, id := range ids {
		patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`
		if code, out := p.call("initech", tok, "PATCH", "/Users/"+id, patch); code != http.StatusOK && code != http.StatusNoContent {
			t.Fatalf("deactivate: %d %v", code, out)
		}
		// Entra's pace: the next one only once this one has been dealt with.
		waitFor(t, "the deactivation applied or held", func() bool { return disabled() == i+1 || held() })
		if held() {
			break
		}
	}
	if n := disabled(); n > 2 || !held() {
		t.Fatalf("%d of 5 accounts disabled one push at a time past safety.max_deletes 2 (held: %v)", n, held())
	}
}
