package notify

import (
	"bytes"
	"encoding/json"
	"net/http"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// flood sends n copies of body to u from a few goroutines and returns how
// many were not answered 202.
func flood(t *testing.T, u string, body []byte, n int) int64 {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	var bad atomic.Int64
	var wg stdsync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				resp, err := client.Post(u, "application/json", bytes.NewReader(body))
				if err != nil {
					bad.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return bad.Load()
}

// A flood of notifications, forged or genuine, costs at most one run per
// debounce window: 10,000 forged ones start none, 10,000 genuine ones one
// (and at most one follow-up), and every request is answered 202.
func TestFloodMakesOneOrTwoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 requests")
	}
	r := newGraphRig(t)
	src, err := entra.Open(r.ctx, entra.Config{TenantID: r.tenant.TenantID, ClientID: r.tenant.ClientID, ClientSecret: r.tenant.ClientSecret,
		GraphURL: r.tenant.GraphURL, AuthorityURL: r.tenant.AuthorityURL, CAFile: r.tenant.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	ws := scimtest.NewServer(scimtest.Options{Token: "t"})
	defer ws.Close()
	tgt, err := scim.New(scim.Config{URL: ws.URL, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	engine := sync.New(r.store, nil)
	sched := sync.NewScheduler(r.ctx, engine)
	conn := &sync.Connection{Name: "acme", SourceType: "entra", Source: src, Target: tgt, RunTimeout: time.Minute,
		Policy: sync.Policy{Deprovision: sync.Deprovision{Disabled: "disable", OutOfScope: "disable", SoftDeleted: "disable", Deleted: "delete"}}}
	if err := sched.Add(conn, sync.Schedule{Incremental: "@every 1h", Full: "@yearly"}); err != nil {
		t.Fatal(err)
	}
	// A long debounce: the follow-up run cannot start while the test looks.
	sched.Triggerable(conn, time.Minute)
	sched.Start()
	defer sched.Stop(false)
	r.svc.Trigger = sched.Trigger
	r.svc.Start(r.ctx)
	if err := r.svc.Reconcile(r.ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	sub := r.tenant.Subscriptions()[0]
	note := func(clientState string) []byte {
		b, _ := json.Marshal(map[string]any{"value": []any{map[string]any{"subscriptionId": sub.ID, "clientState": clientState,
			"changeType": "updated", "resource": "Users/x", "tenantId": r.tenant.TenantID}}})
		return b
	}
	const n = 10000
	u := r.srv.URL + "/notify/acme/graph"

	if bad := flood(t, u, note("forged"), n); bad != 0 {
		t.Errorf("forged flood: %d requests not answered 202", bad)
	}
	eventually(t, "the forged flood processed", func() bool {
		c := r.svc.Counts()["acme"]
		return c.Rejected+c.Dropped == n
	})
	if c := engine.Counters()["acme"]; c.TriggeredRuns != 0 {
		t.Fatalf("forged notifications started %d runs", c.TriggeredRuns)
	}

	if bad := flood(t, u, note(sub.ClientState), n); bad != 0 {
		t.Errorf("genuine flood: %d requests not answered 202", bad)
	}
	eventually(t, "the genuine flood processed", func() bool {
		c := r.svc.Counts()["acme"]
		return c.Rejected+c.Dropped+c.Accepted == 2*n
	})
	c := engine.Counters()["acme"]
	nc := r.svc.Counts()["acme"]
	t.Logf("engine %+v; notify %+v", c, nc)
	if c.TriggeredRuns < 1 || c.TriggeredRuns > 2 {
		t.Errorf("%d runs for %d notifications, want 1 or 2", c.TriggeredRuns, n)
	}
	if nc.Accepted == 0 {
		t.Errorf("no genuine notification accepted")
	}
}
