package main

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/idsync/idsync/sources/okta/oktatest"
)

// freeAddr is a loopback address nothing listens on (for http.listen).

// notifyConfig is the e2e connection's extra: an hourly schedule (only a
// notification can start a run within the test) and a notify block served
// on addr.
func notifyConfig(addr string) string {
	return fmt.Sprintf("    schedule: \"@every 1h\"\n    notify: {public_url: \"http://%s\", debounce: 500ms}\nhttp: {listen: %q}\n", addr, addr)
}

// TestDaemonChangeNotifications: the daemon subscribes to users and groups
// (Graph validates both URLs against it), a change in Entra reaches the
// workspace through a notification while the schedule is hourly, status
// lists the subscriptions, and `notify off` (carried out by the daemon)
// deletes them.
func TestDaemonChangeNotifications(t *testing.T) {
	addr := freeAddr(t)
	e := newE2E(t, notifyConfig(addr))
	cmd := exec.Command(binary, "--config", e.config, "--verbose", "run")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitFor(t, "initial sync", func() bool { return len(e.ws.Users()) == 11 })
	waitFor(t, "subscriptions on users and groups", func() bool { return len(e.tenant.Subscriptions()) == 2 })

	e.tenant.DisableUser(e.user("dave.diaz"))
	waitFor(t, "the change, notified", func() bool { return e.workspace()["dave.diaz@contoso.test"] == "active=false role=reader" })
	if !strings.Contains(stderr.String(), "graph change notification") {
		t.Errorf("no notification-triggered run in the log:\n%s", stderr.String())
	}

	st := e.must([]string{"status"})
	for _, want := range []string{"notify      graph groups ", "notify      graph users ", "expires in "} {
		if !strings.Contains(st.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, st.stdout)
		}
	}
	for _, s := range e.tenant.Subscriptions() {
		if strings.Contains(st.stdout, s.ClientState) || strings.Contains(stderr.String(), s.ClientState) {
			t.Errorf("a clientState was printed or logged")
		}
	}

	off := e.must([]string{"notify", "off", "contoso"})
	if !strings.Contains(off.stdout, "change notifications off") {
		t.Errorf("notify off printed:\n%s", off.stdout)
	}
	if n := len(e.tenant.Subscriptions()); n != 0 {
		t.Errorf("%d subscriptions left after notify off", n)
	}
	if st := e.must([]string{"status"}); !strings.Contains(st.stdout, "notify      off") {
		t.Errorf("status does not say off:\n%s", st.stdout)
	}
	on := e.must([]string{"notify", "on", "contoso"})
	if !strings.Contains(on.stdout, "subscribed to users and groups") || len(e.tenant.Subscriptions()) != 2 {
		t.Errorf("notify on: %d subscriptions\n%s", len(e.tenant.Subscriptions()), on.stdout)
	}
}

// TestDaemonOktaEventHook: `idsync notify register` (carried out by the
// running daemon) creates the hook through the Okta API and Okta verifies
// it against the daemon; a profile update in Okta then reaches the workspace
// through a delivery while the schedule is hourly.
func TestDaemonOktaEventHook(t *testing.T) {
	addr := freeAddr(t)
	e := newOktaE2E(t, false, func(oktatest.Sample) string { return oktaScopeGroups }, notifyConfig(addr))
	cmd := exec.Command(binary, "--config", e.config, "--verbose", "run")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitFor(t, "initial sync", func() bool { return len(e.ws.Users()) > 0 && strings.Contains(stderr.String(), "run finished") })

	r := e.must([]string{"notify", "register", "globex"})
	if !strings.Contains(r.stdout, "created and verified") {
		t.Fatalf("register printed:\n%s\n%s", r.stdout, r.stderr)
	}
	hooks := e.org.EventHooks()
	if len(hooks) != 1 || hooks[0].VerificationStatus != "VERIFIED" || hooks[0].URI != "http://"+addr+"/notify/globex/okta" {
		t.Fatalf("hooks %+v", hooks)
	}
	if strings.Contains(r.stdout+r.stderr+stderr.String(), hooks[0].AuthValue) {
		t.Errorf("the hook secret was printed or logged")
	}
	e.org.UpdateUser(e.uid("bob"), func(u *oktatest.User) { u.LastName = "Hooked" })
	defer func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", stderr.String())
		}
	}()
	waitFor(t, "the profile update, delivered", func() bool {
		for _, u := range e.ws.Users() {
			if u.FamilyName == "Hooked" {
				return true
			}
		}
		return false
	})
	if !strings.Contains(stderr.String(), "okta event hook") {
		t.Errorf("no hook-triggered run in the log")
	}
	if st := e.must([]string{"status"}); !strings.Contains(st.stdout, "notify      okta eventHook "+hooks[0].ID+", verified") {
		t.Errorf("status:\n%s", st.stdout)
	}
}
