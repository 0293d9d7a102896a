package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	notifications "github.com/idsync/idsync/notify"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/sync"
)

// daemonNotify is the running daemon's notification service: commands the
// daemon carries out for the CLI (notify off, register) use it, so what
// they change is what its endpoints check.
var daemonNotify atomic.Pointer[notifications.Service]

// notifyConns are a's connections with a notify block, with their public
// endpoint URLs and what their source can do.
func notifyConns(a *app) []notifications.Conn {
	var out []notifications.Conn
	for _, cc := range a.cfg.Connections {
		n := cc.Notify
		c, ok := a.byName[cc.Name]
		if n == nil || !ok {
			continue
		}
		nc := notifications.Conn{Name: cc.Name, NotificationURL: n.URL(cc.Name, "graph"), LifecycleURL: n.URL(cc.Name, "graph/lifecycle"),
			HookURL: n.URL(cc.Name, "okta")}
		if sub, ok := c.Source.(sources.Subscriber); ok && cc.Source.Type == "entra" {
			nc.Graph = sub
		}
		if cc.Source.Type == "okta" {
			nc.Okta = true
			nc.Hooks, _ = c.Source.(sources.HookRegistrar)
		}
		out = append(out, nc)
	}
	return out
}

// notifyTriggerable gives the connections with a notify block their
// debounce on the scheduler.
func notifyTriggerable(s *sync.Scheduler, a *app) {
	for _, cc := range a.cfg.Connections {
		if c, ok := a.byName[cc.Name]; ok && cc.Notify != nil {
			s.Triggerable(c, cc.Notify.Debounce)
		}
	}
}

// mountNotify serves /notify/<connection>/... on mux and starts the
// subscription upkeep; both follow configuration reloads.
func mountNotify(ctx context.Context, mux *http.ServeMux, a *app, d daemonHTTP) *notifications.Service {
	svc := newNotifyService(a, d.app, d.trigger)
	svc.Owns = d.owns
	mux.Handle("/notify/", svc)
	svc.Start(ctx)
	daemonNotify.Store(svc)
	go func() {
		<-ctx.Done()
		daemonNotify.CompareAndSwap(svc, nil)
	}()
	return svc
}

func newNotifyService(a *app, cur func() *app, trigger func(conn, reason string) bool) *notifications.Service {
	var last atomic.Pointer[app]
	var conns atomic.Pointer[[]notifications.Conn]
	return notifications.New(a.store, trigger, func() (any, []notifications.Conn) {
		now := cur()
		if last.Load() != now || conns.Load() == nil {
			cs := notifyConns(now)
			conns.Store(&cs)
			last.Store(now)
		}
		return now, *conns.Load()
	}, a.log)
}

// notifyService is the daemon's service inside the daemon, else one on a
// (a writer's app) for this command.
func notifyService(a *app) *notifications.Service {
	if svc := daemonNotify.Load(); svc != nil && a.borrowed {
		return svc
	}
	return newNotifyService(a, func() *app { return a }, nil)
}

func notifyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Change notifications: turn them off or on, register an Okta event hook",
		Long: `With a notify block on a connection, the IdP tells the daemon when something
changed and a debounced incremental run starts within seconds (the schedule
goes on as the safety net). For Entra the daemon creates and renews the Graph
subscriptions itself; for Okta, 'idsync notify register' creates the event hook.
'idsync status' lists each subscription and its expiry.`,
	}
	off := &cobra.Command{
		Use:   "off CONNECTION",
		Short: "Delete the connection's Graph subscriptions or Okta event hook, and create none until 'notify on'",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, svc, err := notifyWriter(cmd.Context(), g, args[0])
			if err != nil {
				return err
			}
			defer a.close()
			done, err := svc.Off(cmd.Context(), args[0])
			for _, s := range done {
				fmt.Fprintf(g.stdout, "deleted %s %s %s\n", s.Kind, s.Resource, s.ID)
			}
			if err != nil {
				return fmt.Errorf("notify off %s: %w", args[0], err)
			}
			fmt.Fprintf(g.stdout, "%s: change notifications off; runs go on on the schedule ('idsync notify on %s' to turn them back on)\n", args[0], args[0])
			return nil
		},
	}
	on := &cobra.Command{
		Use:   "on CONNECTION",
		Short: "Let the daemon create the connection's Graph subscriptions again (after 'notify off')",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, svc, err := notifyWriter(cmd.Context(), g, args[0])
			if err != nil {
				return err
			}
			defer a.close()
			if err := svc.On(cmd.Context(), args[0]); err != nil {
				return err
			}
			if a.borrowed && svc == daemonNotify.Load() && a.sourceType(args[0]) == "entra" {
				// Carried out by the daemon, whose endpoints Graph can call now.
				if err := svc.Reconcile(cmd.Context(), args[0], false); err != nil {
					return fmt.Errorf("notify on %s: %w (the daemon tries again on its own)", args[0], err)
				}
				fmt.Fprintf(g.stdout, "%s: change notifications on; subscribed to users and groups\n", args[0])
				return nil
			}
			fmt.Fprintf(g.stdout, "%s: change notifications on (Entra: the daemon subscribes when it runs, within %s; Okta: run 'idsync notify register %s')\n",
				args[0], notifications.DefaultCheckEvery, args[0])
			return nil
		},
	}
	var manual bool
	register := &cobra.Command{
		Use:   "register CONNECTION",
		Short: "Okta: create and verify the connection's event hook through the Okta API (--manual: print a secret for the Admin Console)",
		Long: `Create the connection's Okta event hook (user lifecycle, profile, group
membership and app assignment events) pointing at notify.public_url, with a new
random secret in its Authorization header, and have Okta verify it. The token
must be allowed to manage event hooks (a super admin's API token, or
okta.eventHooks.manage in oauth.scopes), and the daemon must be running and
reachable at notify.public_url for the verification.

--manual records a new secret and prints it once, with the Admin Console steps,
for a hook set up by hand.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, svc, err := notifyWriter(cmd.Context(), g, args[0])
			if err != nil {
				return err
			}
			defer a.close()
			name := args[0]
			cc := a.cfg.Connections[0]
			for _, c := range a.cfg.Connections {
				if c.Name == name {
					cc = c
				}
			}
			if manual {
				secret, err := svc.ManualOkta(cmd.Context(), name)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, `In the Okta Admin Console: Workflow → Event Hooks → Create Event Hook
  URL                    %s
  Authentication field   Authorization
  Authentication secret  %s
  Events                 %v
then Save & Continue → Verify. The secret is shown only this once (idsync keeps its SHA-256).
`, cc.Notify.URL(name, "okta"), secret, notifications.EventTypes)
				return nil
			}
			id, err := svc.RegisterOkta(cmd.Context(), name)
			if err != nil {
				return fmt.Errorf("notify register %s: %w", name, err)
			}
			fmt.Fprintf(g.stdout, "%s: event hook %s created and verified; Okta delivers to %s\n", name, id, cc.Notify.URL(name, "okta"))
			return nil
		},
	}
	register.Flags().BoolVar(&manual, "manual", false, "set the hook up by hand in the Admin Console: print a new secret and the steps")
	cmd.AddCommand(off, on, register)
	return cmd
}

// notifyWriter opens the state for writing (or is carried out by the
// daemon) and checks that name has a notify block.
func notifyWriter(ctx context.Context, g *globals, name string) (*app, *notifications.Service, error) {
	a, err := openWriter(ctx, g)
	if err != nil {
		return nil, nil, err
	}
	for _, cc := range a.cfg.Connections {
		if cc.Name == name {
			if cc.Notify == nil {
				a.close()
				return nil, nil, fmt.Errorf("connection %q has no notify block: add notify: {public_url: https://...} to it first", name)
			}
			return a, notifyService(a), nil
		}
	}
	a.close()
	return nil, nil, fmt.Errorf("no connection %q in the config (have: %v)", name, a.names())
}

// sourceType is the named connection's source type.
func (a *app) sourceType(name string) string {
	for _, cc := range a.cfg.Connections {
		if cc.Name == name {
			return cc.Source.Type
		}
	}
	return ""
}

// notifyLines are a connection's lines in `idsync status`.
func notifyLines(s connStatus, now time.Time) []string {
	var out []string
	if s.NotifyOff {
		out = append(out, "off (idsync notify on "+s.Connection+" to turn back on)")
	}
	for _, n := range s.Notify {
		line := fmt.Sprintf("%s %s %s", n.Kind, n.Resource, n.ID)
		switch {
		case !n.ExpiresAt.IsZero() && !n.ExpiresAt.After(now):
			line += fmt.Sprintf(", EXPIRED %s ago", ago(now, n.ExpiresAt))
		case !n.ExpiresAt.IsZero():
			line += fmt.Sprintf(", expires in %s (%s)", n.ExpiresAt.Sub(now).Round(time.Minute), n.ExpiresAt.Local().Format(time.DateTime))
		}
		if n.Status != "" {
			line += ", " + n.Status
		}
		out = append(out, line)
	}
	return out
}

// notifyCounts are the running daemon's notification counters by
// connection (nil outside the daemon or without a listener), for /metrics:
// received, accepted, rejected, dropped, triggers, lifecycle events,
// handshakes and the last delivery lag. The runs they started are the
// engine's Counters().TriggeredRuns.
func notifyCounts() map[string]notifications.Counts {
	if svc := daemonNotify.Load(); svc != nil {
		return svc.Counts()
	}
	return nil
}
