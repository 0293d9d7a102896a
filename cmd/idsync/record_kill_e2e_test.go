package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync/targets/scim/scimtest"
)

// TestKilledMidRecordGroupAppliesOnce: the daemon is SIGKILLed while its
// apply workers (8, on a slow workspace) record what they applied in shared
// transactions (sync/recordgroup.go). Restarted, every planned op lands
// exactly once: each user still active has its new title, exactly the
// pushed deactivations are disabled (a leaver's title is not updated), nobody else is disabled or deleted, no
// account is duplicated, the outbox is empty, and the provisioning log has
// one "applied" event per op.
func TestKilledMidRecordGroupAppliesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	const n = 240
	p := newPushE2EFor(t, "    safety: {max_deletes: 0, max_delete_percent: 0}\n",
		"source: {type: scim, debounce: 200ms, rate_limit: 0, max_concurrent: 64}", "      rate_limit: 0\n      concurrency: 8\n", "initech")
	p.start()
	tok := p.token("initech")
	ws := p.ws["initech"]
	name := func(i int) string { return fmt.Sprintf("u%03d@initech.test", i) }
	ids := make([]string, n)
	for i := range n {
		code, r := p.call("initech", tok, "POST", "/Users", entraUser(name(i), fmt.Sprintf("e-%d", i)))
		if code != http.StatusCreated {
			t.Fatalf("create %s: %d %v", name(i), code, r)
		}
		ids[i], _ = r["id"].(string)
	}
	waitFor(t, "every user in the workspace", func() bool { return len(ws.Users()) == n })

	// Every user gets a new title; every fifth is deactivated too (Entra's
	// soft delete). The workspace answers slowly, and the daemon is killed
	// from inside the workspace's handler of its 30th change after the
	// pushes: that change is made and its answer never reaches the daemon
	// (applied, not recorded), while other workers are between their
	// request and their group's commit.
	disabled := func(i int) bool { return i%5 == 0 }
	ws.SetLatency(20 * time.Millisecond)
	var wg stdsync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ops := `{"op":"Replace","path":"title","value":"Title 2"}`
			if disabled(i) {
				ops += `,{"op":"Replace","path":"active","value":"False"}`
			}
			code, r := p.call("initech", tok, "PATCH", "/Users/"+ids[i], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
			if code/100 != 2 {
				t.Errorf("patch %s: %d %v", name(i), code, r)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	changes := func() int { return ws.CountRequests("PATCH", "/Users") + ws.CountRequests("PUT", "/Users") }
	armed := changes()
	var kill stdsync.Once
	ws.OnRequest(func(r scimtest.Request) {
		if (r.Method == "PATCH" || r.Method == "PUT") && changes() >= armed+30 {
			kill.Do(func() { p.daemon.cmd.Process.Kill() })
		}
	})
	select {
	case <-p.daemon.done:
	case <-time.After(time.Minute):
		t.Fatalf("the daemon was not killed: %d changes sent", changes())
	}
	ws.OnRequest(nil)
	changed := func() int {
		k := 0
		for _, u := range ws.Users() {
			if u.Title == "Title 2" || !u.Active {
				k++
			}
		}
		return k
	}
	mid, sent := changed(), changes()
	if mid >= n {
		t.Fatalf("every user was changed before the kill: it did not land mid-apply")
	}

	ws.SetLatency(0)
	p.start()
	want := func() error {
		users := ws.Users()
		if len(users) != n {
			return fmt.Errorf("%d accounts in the workspace, want %d", len(users), n)
		}
		seen := map[string]bool{}
		for _, u := range users {
			if seen[u.ExternalID] {
				return fmt.Errorf("two accounts for %s", u.ExternalID)
			}
			seen[u.ExternalID] = true
		}
		for i := range n {
			u, ok := ws.UserByName(name(i))
			switch {
			case !ok:
				return fmt.Errorf("%s is gone from the workspace", name(i))
			case u.Title != "Title 2" && !disabled(i): // a leaver's attributes are not updated
				return fmt.Errorf("%s has title %q", name(i), u.Title)
			case u.Active == disabled(i):
				return fmt.Errorf("%s: active %v, want %v", name(i), u.Active, !disabled(i))
			}
		}
		return nil
	}
	deadline := time.Now().Add(time.Minute)
	for err := want(); err != nil; err = want() {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, "an empty outbox", func() bool {
		return strings.Contains(p.must("status", "--output", "json").stdout, `"ops_pending": 0`)
	})

	// Sent again after the restart: the ops the workspace had taken but
	// the killed daemon had not recorded (in flight at the kill).
	after := changes() - sent
	t.Logf("SIGKILL with %d of %d users changed; %d changes sent after the restart for %d users", mid, n, after, n-mid)
	if after <= n-mid {
		t.Errorf("no change was sent again after the restart: the one the kill interrupted was applied and never recorded, and must be")
	}

	// The log: one applied event per op, none failed.
	var log struct {
		Events []struct {
			Kind     string `json:"kind"`
			ObjectID string `json:"object_id"`
			Result   string `json:"result"`
			Detail   string `json:"detail"`
		}
	}
	if err := json.Unmarshal([]byte(p.must("log", "--connection", "initech", "--limit", "0", "--output", "json").stdout), &log); err != nil {
		t.Fatal(err)
	}
	updates, disables := map[string]int{}, map[string]int{}
	for _, e := range log.Events {
		if e.Result == "failed" {
			t.Errorf("failed op in the log: %+v", e)
		}
		if e.Result != "applied" {
			continue
		}
		switch e.Kind {
		case "update":
			if strings.Contains(e.Detail, "Title 2") {
				updates[e.ObjectID]++
			}
		case "disable":
			disables[e.ObjectID]++
		case "delete":
			t.Errorf("a delete was applied: %+v", e)
		}
	}
	for i, id := range ids {
		if want := map[bool]int{false: 1}[disabled(i)]; updates[id] != want {
			t.Errorf("%s: %d applied title updates in the log, want %d", name(i), updates[id], want)
		}
		if want := map[bool]int{true: 1}[disabled(i)]; disables[id] != want {
			t.Errorf("%s: %d applied disables in the log, want %d", name(i), disables[id], want)
		}
	}
}
