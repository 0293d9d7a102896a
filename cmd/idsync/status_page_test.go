package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
)

// statusDaemon is a daemon serving the status page of e, whose connection
// has a held plan. auth is appended to the http block. It returns the
// page's URL and the held plan's id.
func statusDaemon(t *testing.T, auth string) (e *e2e, d *daemonProc, url, planID string) {
	t.Helper()
	return statusDaemonAfter(t, auth, 0)
}

// statusDaemonAfter is statusDaemon after rounds runs with hires, title
// changes and promotions (a history for the chart).
func statusDaemonAfter(t *testing.T, auth string, rounds int) (e *e2e, d *daemonProc, url, planID string) {
	t.Helper()
	e = newE2E(t, "    schedule: \"@every 1h\"\n")
	e.must([]string{"sync"})
	for i := range rounds {
		if i%4 == 1 { // few enough that 3 disables stay over the safety limit
			id := e.tenant.AddUser(entratest.User{UserPrincipalName: fmt.Sprintf("hire%d@contoso.test", i), GivenName: "New", Surname: "Hire", AccountEnabled: true})
			e.tenant.AddMember(e.sample.Groups["Sales"], id)
		}
		for j, n := range []string{"alice.archer", "bob.baker", "carol.chen", "frank.fischer"} {
			if (i+j)%3 == 0 {
				e.tenant.UpdateUser(e.user(n), func(u *entratest.User) { u.JobTitle = fmt.Sprintf("Title %d", i) })
			}
		}
		e.must([]string{"sync"})
	}
	for _, n := range []string{"dave.diaz", "erin.evans", "oscar.olsen"} {
		e.tenant.DisableUser(e.user(n))
	}
	planID = e.heldSync()
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "http:\n  listen: 127.0.0.1:0\n%s", auth)
	f.Close()
	d = e.startDaemon()
	addr := regexp.MustCompile(`msg=listening addr=(\S+)`)
	waitFor(t, "the daemon's listener", func() bool { return addr.MatchString(d.log.String()) })
	waitFor(t, "the daemon's first run", func() bool { return strings.Contains(d.log.String(), "run finished") })
	return e, d, "http://" + addr.FindStringSubmatch(d.log.String())[1] + "/", planID
}

func get(t *testing.T, url, user, pass string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestStatusPage(t *testing.T) {
	e, d, url, id := statusDaemon(t, "")
	start := time.Now()
	code, page, h := get(t, url, "", "")
	t.Logf("GET / answered %d bytes in %s", len(page), time.Since(start))
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s\n%s\ndaemon:\n%s", code, h.Get("Content-Type"), page, d.log)
	}
	for _, want := range []string{
		`id="conn-contoso"`, ">held<", "Held plan " + id,
		"approve contoso --plan " + id, "--config " + e.config,
		"disable", "dave.diaz@contoso.test", "oscar.olsen@contoso.test",
		"<svg", `class="k-create"`, "<polyline class=\"dur\"", "Recent runs", "@every 1h", "next run",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %q", want)
		}
	}
	// Self-contained, no script, nothing secret.
	for _, bad := range []string{"<script", "src=", "http://", "https://", e.tenant.ClientSecret, demoToken} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if code, _, _ := get(t, url+"nothing-here", "", ""); code != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d", code)
	}
	if t.Failed() {
		t.Logf("page:\n%s", page)
	}
}

func TestStatusPageBasicAuth(t *testing.T) {
	pw := t.TempDir() + "/pw"
	if err := os.WriteFile(pw, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, d, url, id := statusDaemon(t, fmt.Sprintf("  auth: {username: admin, password_file: %q}\n", pw))
	if code, body, h := get(t, url, "", ""); code != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), "Basic") || strings.Contains(body, id) {
		t.Fatalf("GET / without credentials: %d %q\n%s\ndaemon:\n%s", code, h.Get("WWW-Authenticate"), body, d.log)
	}
	for _, c := range [][2]string{{"admin", "wrong"}, {"root", "correct horse"}, {"admin", ""}} {
		if code, _, _ := get(t, url, c[0], c[1]); code != http.StatusUnauthorized {
			t.Errorf("GET / as %s:%s: %d", c[0], c[1], code)
		}
	}
	if code, body, _ := get(t, url, "admin", "correct horse"); code != 200 || !strings.Contains(body, id) {
		t.Fatalf("GET / with the password: %d\n%s", code, body)
	}
	// The probes stay open.
	for _, p := range []string{"healthz", "readyz"} {
		if code, _, _ := get(t, url+p, "", ""); code != 200 {
			t.Errorf("GET /%s without credentials: %d", p, code)
		}
	}
}
