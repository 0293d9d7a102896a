package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// demoNotify is the demo's last step: `idsync run` with a notify block and
// an hourly schedule, so a change in the tenant reaches the workspace only
// through a Graph change notification, and how long that took.
func demoNotify(ctx context.Context, g *globals, dir string, tenant *entratest.Server, ws *scimtest.Server, sample entratest.Sample) error {
	out := g.stdout
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	path, err := writeConfig(dir, tenant, ws, demoConnection)
	if err != nil {
		return err
	}
	extra := fmt.Sprintf("    schedule: \"@every 1h\"\n    notify: {public_url: \"http://%s\", debounce: 1s}\nhttp: {listen: %q}\n", addr, addr)
	b, _ := os.ReadFile(path)
	notifyPath := filepath.Join(dir, "idsync-notify.yaml")
	if err := os.WriteFile(notifyPath, append(b, extra...), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n── 7. Seconds, not minutes: the daemon with change notifications and an hourly schedule\n")
	fmt.Fprintf(out, "$ idsync run   # with   notify: {public_url: http://%s, debounce: 1s}   schedule: \"@every 1h\"\n", addr)
	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- daemon(dctx, &globals{config: notifyPath, stdout: g.stdout, stderr: g.stderr, argv: []string{"run"}}, nil)
	}()
	defer func() {
		stop()
		<-done
	}()
	wait := func(what string, ok func() bool) error {
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			select {
			case err := <-done:
				done <- err
				return fmt.Errorf("demo: the daemon stopped: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return errors.New("demo: timed out waiting for " + what)
			}
		}
		return nil
	}
	if err := wait("the subscriptions", func() bool { return len(tenant.Subscriptions()) == 2 }); err != nil {
		return err
	}
	fmt.Fprintln(out, "   • subscribed to users and groups (Graph validated both URLs against the daemon)")
	start := time.Now()
	hire := tenant.AddUser(entratest.User{UserPrincipalName: "rosa.rivera@" + entratest.SampleDomain, Mail: "rosa.rivera@" + entratest.SampleDomain,
		GivenName: "Rosa", Surname: "Rivera", DisplayName: "Rosa Rivera", AccountEnabled: true, Department: "Sales", JobTitle: "Account Executive"})
	if err := tenant.AddMember(sample.Groups["Sales"], hire); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintln(out, "   • meanwhile in Entra: new hire rosa.rivera joins Sales")
	if err := wait("rosa.rivera in the workspace", func() bool {
		for _, u := range ws.Users() {
			if u.UserName == "rosa.rivera@"+entratest.SampleDomain {
				return true
			}
		}
		return false
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "   • rosa.rivera has a Whimsical account %.1f s later — not at the next scheduled run in an hour\n", time.Since(start).Seconds())
	return nil
}
