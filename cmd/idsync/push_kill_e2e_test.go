package main

import (
	"fmt"
	"net/http"
	"strings"
	stdsync "sync"
	"testing"
	"time"
)

// TestPushSurvivesSIGKILL: the daemon is killed (SIGKILL) while pushes
// are being written. Restarted, it serves every user it acknowledged (and
// whatever else committed), and the workspace follows exactly what it
// serves: a user written but not yet applied was still dirty and is
// applied by the run at start.
func TestPushSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	// No per-token rate limit: the test counts what it looks up after.
	p := newPushE2EFor(t, "    safety: {max_delete_percent: 0}\n", "source: {type: scim, debounce: 200ms, rate_limit: 0}", "", "initech")
	p.start()
	tok := p.token("initech")
	var mu stdsync.Mutex
	acked := map[string]bool{}
	var wg stdsync.WaitGroup
	stop := make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", "http://"+p.listen+"/scim/v2/initech/Users",
					strings.NewReader(entraUser(fmt.Sprintf("u%d-%d@initech.test", w, i), "e")))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/scim+json")
				resp, err := client.Do(req)
				if err != nil {
					return // the daemon is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked[fmt.Sprintf("u%d-%d@initech.test", w, i)] = true
					mu.Unlock()
				}
			}
		})
	}
	waitFor(t, "some pushes acknowledged and applied", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 40 && len(p.workspace("initech")) > 0
	})
	p.daemon.cmd.Process.Kill()
	<-p.daemon.done
	close(stop)
	wg.Wait()

	p.start()
	_, list := p.call("initech", tok, "GET", "/Users?count=100000", "")
	served := map[string]bool{}
	res, _ := list["Resources"].([]any)
	for _, r := range res {
		served[strings.ToLower(r.(map[string]any)["userName"].(string))] = true
	}
	for name := range acked {
		if !served[name] {
			t.Errorf("acknowledged %s, not served after the restart", name)
		}
		code, one := p.call("initech", tok, "GET", `/Users?filter=userName%20eq%20%22`+name+`%22`, "")
		if code != http.StatusOK || fmt.Sprint(one["totalResults"]) != "1" {
			t.Errorf("lookup of %s after the restart: %d %v", name, code, one)
		}
	}
	waitFor(t, "the workspace holds what is served", func() bool {
		ws := p.workspace("initech")
		if len(ws) != len(served) {
			return false
		}
		for name := range served {
			if _, ok := ws[name]; !ok {
				return false
			}
		}
		return true
	})
	t.Logf("%d acknowledged, %d served after the kill", len(acked), len(served))
}
