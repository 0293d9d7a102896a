package notify

import (
	"database/sql"
	"net/http"
	"testing"
	"time"
)

// A local clock that jumps past a subscription's expiry (a VM resumed, NTP
// stepping) must not make the daemon forget subscriptions Graph still
// has: they would keep delivering (rejected, unknown clientState) until
// Graph expires them, one pair more at every jump. The renewal finds out
// whether Graph still has them.
func TestGraphClockJumpRenewsRatherThanOrphans(t *testing.T) {
	r := newGraphRig(t)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	before := r.tenant.Subscriptions()
	r.clock.Add(r.svc.Lifetime + time.Hour) // locally "expired"; Graph's clock did not move
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	after := r.tenant.Subscriptions()
	if len(after) != 2 {
		t.Fatalf("Graph has %d subscriptions after the clock jump, want 2 (the others are orphans)", len(after))
	}
	for i := range after {
		if after[i].ID != before[i].ID {
			t.Errorf("subscription %s replaced by %s, want renewed in place", before[i].ID, after[i].ID)
		}
	}
}

// A subscription Graph created whose id the state never recorded (the
// daemon died between Graph's answer and its commit) is deleted when the
// daemon next verifies, not left delivering to its endpoint until it
// expires — a crash loop would pile them up against Graph's quota.
func TestGraphOrphanFromLostCommitDeleted(t *testing.T) {
	r := newGraphRig(t)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	cs := r.svc.lookup("acme")
	orphan, _, err := cs.Graph.CreateSubscription(r.ctx, "users", cs.NotificationURL, cs.LifecycleURL, newSecret(), r.svc.expiry())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Reconcile(r.ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
	got := r.tenant.Subscriptions()
	for _, s := range got {
		if s.ID == orphan {
			t.Errorf("orphan subscription %s still in Graph", orphan)
		}
	}
	if len(got) != 2 {
		t.Errorf("Graph has %d subscriptions, want 2", len(got))
	}
}

// Graph may repeat a lifecycle event (and a delivery may hold it many
// times): each must not become its own goroutine and its own PATCH.
func TestGraphRepeatedLifecycleEventRenewsOnce(t *testing.T) {
	r := newGraphRig(t)
	r.svc.Start(r.ctx)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	sub := r.tenant.Subscriptions()[0]
	r.clock.Add(time.Hour)
	calls := r.tenant.Calls("subscriptions")
	const n = 50
	var notes []any
	for range n {
		notes = append(notes, map[string]any{"subscriptionId": sub.ID, "clientState": sub.ClientState,
			"lifecycleEvent": "reauthorizationRequired", "resource": "users"})
	}
	if code := postJSON(t, r.srv.URL+"/notify/acme/graph/lifecycle", map[string]any{"value": notes}); code != http.StatusAccepted {
		t.Fatalf("answered %d", code)
	}
	r.trig.wait(t, "reauthorizationRequired")
	eventually(t, "renewed", func() bool {
		for _, s := range r.tenant.Subscriptions() {
			if s.ID == sub.ID && s.Expires.After(sub.Expires) {
				return true
			}
		}
		return false
	})
	// Every event triggers a pull once handled (or folded into one in hand).
	eventually(t, "the event handled", func() bool { return r.svc.Counts()["acme"].Triggers >= 1 })
	if got := r.tenant.Calls("subscriptions") - calls; got > 4 {
		t.Errorf("%d Graph subscription calls for one repeated reauthorizationRequired, want 1 PATCH (+ the upkeep's 2 verifying GETs)", got)
	}
}

// failInserts makes the state refuse new notify_subscriptions rows of kind
// (a disk full, a lost commit): a trigger in the real SQLite file.
func failInserts(t *testing.T, path, kind string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER review14_fail BEFORE INSERT ON notify_subscriptions WHEN NEW.kind = '` + kind +
		`' BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END`); err != nil {
		t.Fatal(err)
	}
}

// An event hook Okta created but the state could not record is deleted
// again: unrecorded, nothing would ever delete it (notify off and the next
// register only delete what the state knows), and Okta limits an org's
// event hooks.
func TestOktaHookNotRecordedIsDeleted(t *testing.T) {
	r := newOktaRig(t)
	failInserts(t, r.path, KindOkta)
	if _, err := r.svc.RegisterOkta(r.ctx, "globex"); err == nil {
		t.Fatal("register succeeded though the state refused the hook")
	}
	if hooks := r.org.EventHooks(); len(hooks) != 0 {
		t.Errorf("Okta keeps %d event hooks the state does not know", len(hooks))
	}
}

// The same for a Graph subscription: one the state refused is deleted at
// once (the next verification's sweep would find it otherwise).
func TestGraphSubscriptionNotRecordedIsDeleted(t *testing.T) {
	r := newGraphRig(t)
	failInserts(t, r.path, KindGraph)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err == nil {
		t.Fatal("reconcile succeeded though the state refused the subscriptions")
	}
	if subs := r.tenant.Subscriptions(); len(subs) != 0 {
		t.Errorf("Graph keeps %d subscriptions the state does not know", len(subs))
	}
}
