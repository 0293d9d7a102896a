package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/state/pgtest"
)

// Two daemons on one PostgreSQL state with a push connection: the daemon
// that does not hold its lease takes the IdP's pushes (they land), and the
// holder runs the connection (asked through NOTIFY), so what was pushed to
// the other daemon reaches the workspace within seconds. Reads at either
// daemon see writes made at the other.
func TestPushToTheDaemonWithoutTheLease(t *testing.T) {
	p := newPushE2E(t, "    safety: {max_delete_percent: 0}\n", "acme")
	dsn := pgtest.DSN(t)
	b, err := os.ReadFile(p.config)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^state: .*$`).ReplaceAll(b, []byte(fmt.Sprintf("state: {postgres: {dsn: %q, lease: 3s}}", dsn)))
	if err := os.WriteFile(p.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// The second daemon: the same state and connection, its own listener.
	other := &pushE2E{t: t, dir: p.dir, listen: freeAddr(t), ws: p.ws, config: filepath.Join(p.dir, "idsync2.yaml")}
	if err := os.WriteFile(other.config, []byte(strings.Replace(string(b), p.listen, other.listen, 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	st, err := state.OpenReadOnly(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	holder := func() int {
		var pid int
		if err := st.View(ctx, func(tx *state.Tx) error {
			ls, err := tx.Leases()
			for _, l := range ls {
				if l.Connection == "acme" && l.Live {
					pid = l.PID
				}
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	p.start()
	waitFor(t, "the first daemon to hold acme", func() bool { return holder() == p.daemon.cmd.Process.Pid })
	other.start()
	defer func() {
		if t.Failed() {
			t.Logf("holder:\n%s\nother:\n%s", p.daemon.log.String(), other.daemon.log.String())
		}
	}()
	tok := p.token("acme")

	// A create at the daemon without the lease lands, and the holder runs it.
	code, created := other.call("acme", tok, "POST", "/Users", entraUser("bob@acme.test", "e-bob"))
	if code != http.StatusCreated {
		t.Fatalf("create at the daemon without the lease: %d %v", code, created)
	}
	id, _ := created["id"].(string)
	waitFor(t, "bob in the workspace", func() bool { return p.workspace("acme")["bob@acme.test"] })
	if pid := holder(); pid != p.daemon.cmd.Process.Pid {
		t.Fatalf("the lease moved to pid %d: the run was not the holder's", pid)
	}

	// What one daemon wrote, the other serves; a write at the holder after
	// one at the other daemon builds on it (version 2, not a second 1).
	code, got := p.call("acme", tok, "GET", "/Users/"+id, "")
	if code != http.StatusOK || got["userName"] != "bob@acme.test" {
		t.Fatalf("read at the holder: %d %v", code, got)
	}
	code, _ = p.call("acme", tok, "PATCH", "/Users/"+id,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
	if code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("deactivate at the holder: %d", code)
	}
	code, got = other.call("acme", tok, "GET", "/Users/"+id, "")
	if code != http.StatusOK || got["active"] != false {
		t.Fatalf("read at the other daemon after a write at the holder: %d %v", code, got)
	}
	if v, _ := got["meta"].(map[string]any)["version"].(string); !strings.Contains(v, "2") {
		t.Fatalf("version after two writes at two daemons: %q", v)
	}
	// And a reactivation at the other daemon reaches the workspace too.
	waitFor(t, "bob disabled in the workspace", func() bool {
		active, ok := p.workspace("acme")["bob@acme.test"]
		return ok && !active
	})
	code, _ = other.call("acme", tok, "PATCH", "/Users/"+id,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":true}]}`)
	if code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("reactivate at the other daemon: %d", code)
	}
	start := time.Now()
	waitFor(t, "bob enabled again in the workspace", func() bool { return p.workspace("acme")["bob@acme.test"] })
	t.Logf("a push at the daemon without the lease reached the workspace in %v", time.Since(start).Round(time.Millisecond))
}
