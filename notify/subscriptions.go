package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
)

// GraphResources are the Graph resources a connection subscribes to.
var GraphResources = []string{"users", "groups"}

// upkeep looks after every Graph connection's subscriptions now and every
// CheckEvery: creates the missing ones, renews the ones due, and reads each
// back from Graph every VerifyEvery. After a failure (the public URL not
// served yet, Graph busy) it tries again sooner: 15 s, doubling up to
// CheckEvery.
func (s *Service) upkeep(ctx context.Context) {
	every := s.CheckEvery
	if every <= 0 {
		every = DefaultCheckEvery
	}
	retry := 15 * time.Second
	for {
		next := every
		for _, cs := range s.connNames() {
			if cs.Graph == nil || !s.owns(cs.Name) {
				continue
			}
			s.mu.Lock()
			verify := time.Since(s.verified[cs.Name]) >= s.VerifyEvery
			s.mu.Unlock()
			if err := s.Reconcile(ctx, cs.Name, verify); err != nil {
				if ctx.Err() != nil {
					return
				}
				next = min(next, retry)
				s.Log.Warn("notify: could not set up change notifications; runs go on on the schedule, and this is tried again",
					"connection", cs.Name, "error", err, "retry_in", next.String())
				continue
			}
			if verify {
				s.mu.Lock()
				s.verified[cs.Name] = time.Now()
				s.mu.Unlock()
			}
		}
		if next < every {
			retry = min(2*retry, every)
		} else {
			retry = 15 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// owns: see Service.Owns.
func (s *Service) owns(name string) bool { return s.Owns == nil || s.Owns(name) }

func (s *Service) subs(ctx context.Context, name string) ([]state.NotifySubscription, bool, error) {
	var subs []state.NotifySubscription
	var off bool
	err := s.Store.View(ctx, func(tx *state.Tx) error {
		var err error
		if off, err = tx.NotifyOff(name); err != nil {
			return err
		}
		subs, err = tx.NotifySubscriptions(name)
		return err
	})
	return subs, off, err
}

func (s *Service) save(ctx context.Context, sub state.NotifySubscription) error {
	if err := s.Store.Update(ctx, func(tx *state.Tx) error { return tx.SaveNotifySubscription(sub) }); err != nil {
		return err
	}
	s.putSecret(sub.Connection, secretEntry{id: sub.ID, kind: sub.Kind, resource: sub.Resource, hash: sub.SecretHash})
	return nil
}

func (s *Service) forget(ctx context.Context, name, id string) error {
	s.dropSecret(name, id)
	return s.Store.Update(ctx, func(tx *state.Tx) error { return tx.DeleteNotifySubscription(name, id) })
}

// Reconcile makes the connection's Graph subscriptions what they should
// be: one on users and one on groups, neither expiring within RenewBefore
// (by Now). verify reads each back from Graph first, so one removed
// without a lifecycle event is recreated. Nothing is done while the
// connection's notifications are off (`idsync notify off`).
func (s *Service) Reconcile(ctx context.Context, name string, verify bool) error {
	cs := s.lookup(name)
	if cs == nil || cs.Graph == nil {
		return fmt.Errorf("notify: %s has no change notifications (notify block and an entra source)", name)
	}
	l := s.lock(name)
	l.Lock()
	defer l.Unlock()
	subs, off, err := s.subs(ctx, name)
	if err != nil || off {
		return err
	}
	have := map[string]state.NotifySubscription{}
	for _, sub := range subs {
		if sub.Kind != KindGraph {
			continue
		}
		// A duplicate, a resource no longer wanted, or one delivered to a
		// URL that is not notify.public_url's any more: deleted (and the
		// right one created below).
		if _, dup := have[sub.Resource]; dup || !wanted(sub.Resource) || (sub.URL != "" && sub.URL != cs.NotificationURL) {
			if err := cs.Graph.DeleteSubscription(ctx, sub.ID); err != nil {
				return err
			}
			if err := s.forget(ctx, name, sub.ID); err != nil {
				return err
			}
			continue
		}
		have[sub.Resource] = sub
	}
	var errs []error
	if verify {
		// Hygiene, not the subscriptions' health: a failure is logged only.
		if err := s.deleteOrphans(ctx, cs, subs); err != nil && ctx.Err() == nil {
			s.Log.Warn("notify: could not look for Graph subscriptions left by an earlier process; they expire on their own",
				"connection", name, "error", err)
		}
	}
	for _, res := range GraphResources {
		sub, ok := have[res]
		if ok {
			errs = append(errs, s.keep(ctx, cs, sub, verify, false))
			continue
		}
		errs = append(errs, s.create(ctx, cs, res))
	}
	return errors.Join(errs...)
}

// deleteOrphans deletes the subscriptions Graph holds that deliver to the
// connection's notificationUrl but the state does not know: created by a
// process that died before it recorded them. Their clientState is lost, so
// all they do is deliver rejected notifications until they expire — and a
// crash loop would pile them up against Graph's subscription quota.
func (s *Service) deleteOrphans(ctx context.Context, cs *connState, known []state.NotifySubscription) error {
	lister, ok := cs.Graph.(sources.SubscriptionLister)
	if !ok {
		return nil
	}
	all, err := lister.ListSubscriptions(ctx)
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, k := range known {
		mine[k.ID] = true
	}
	for _, sub := range all {
		if sub.NotificationURL != cs.NotificationURL || mine[sub.ID] {
			continue
		}
		s.Log.Warn("notify: deleting a Graph subscription to this daemon's endpoint that the state does not know (left by an earlier process)",
			"connection", cs.Name, "resource", sub.Resource, "subscription", sub.ID)
		if err := cs.Graph.DeleteSubscription(ctx, sub.ID); err != nil {
			return err
		}
	}
	return nil
}

func wanted(resource string) bool {
	for _, r := range GraphResources {
		if r == resource {
			return true
		}
	}
	return false
}

// keep renews sub when due (or force) and recreates it when Graph no
// longer has it.
func (s *Service) keep(ctx context.Context, cs *connState, sub state.NotifySubscription, verify, force bool) error {
	now := s.Now()
	// Expired by our clock is not gone: the clock may have jumped. The
	// renewal (due anyway) tells; forgetting one Graph still has would
	// leave it delivering to us, orphaned, until Graph's own expiry.
	gone := false
	if verify {
		if _, err := cs.Graph.SubscriptionExpiry(ctx, sub.ID); errors.Is(err, sources.ErrSubscriptionGone) {
			gone = true
		} else if err != nil {
			return err
		}
	}
	if !gone && !force && sub.ExpiresAt.Sub(now) >= s.RenewBefore {
		return nil
	}
	if !gone {
		err := s.renewLocked(ctx, cs, sub)
		if !errors.Is(err, sources.ErrSubscriptionGone) {
			return err
		}
	}
	s.Log.Warn("notify: a Graph subscription is gone; creating a new one", "connection", cs.Name, "resource", sub.Resource, "subscription", sub.ID)
	if err := s.forget(ctx, cs.Name, sub.ID); err != nil {
		return err
	}
	return s.create(ctx, cs, sub.Resource)
}

func (s *Service) renewLocked(ctx context.Context, cs *connState, sub state.NotifySubscription) error {
	exp, err := cs.Graph.RenewSubscription(ctx, sub.ID, s.expiry())
	if err != nil {
		return err
	}
	sub.ExpiresAt, sub.RenewedAt = exp, s.Now()
	s.Log.Info("notify: renewed a Graph subscription", "connection", cs.Name, "resource", sub.Resource, "subscription", sub.ID, "expires", exp)
	return s.save(ctx, sub)
}

func (s *Service) expiry() time.Time {
	life := s.Lifetime
	if life <= 0 || life > MaxGraphLifetime {
		life = DefaultLifetime
	}
	return s.Now().Add(life)
}

// MaxGraphLifetime is Graph's longest subscription on users and groups
// (41,760 minutes).
const MaxGraphLifetime = 41760 * time.Minute

// create subscribes to resource with a new random clientState; only its
// SHA-256 is kept. While Graph validates and answers, the clientState is
// "in flight": a notification carrying it is accepted before the id is
// known.
func (s *Service) create(ctx context.Context, cs *connState, resource string) error {
	secret := newSecret()
	h := hashSecret(secret)
	s.mu.Lock()
	if s.pending[cs.Name] == nil {
		s.pending[cs.Name] = map[string]bool{}
	}
	s.pending[cs.Name][h] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending[cs.Name], h)
		s.mu.Unlock()
	}()
	id, exp, err := cs.Graph.CreateSubscription(ctx, resource, cs.NotificationURL, cs.LifecycleURL, secret, s.expiry())
	if err != nil {
		return fmt.Errorf("subscribe to %s at %s (Graph must reach it: is notify.public_url right and served?): %w", resource, cs.NotificationURL, err)
	}
	s.Log.Info("notify: created a Graph subscription", "connection", cs.Name, "resource", resource, "subscription", id, "expires", exp)
	err = s.save(ctx, state.NotifySubscription{Connection: cs.Name, ID: id, Kind: KindGraph, Resource: resource,
		SecretHash: h, ExpiresAt: exp, CreatedAt: s.Now(), URL: cs.NotificationURL})
	if err != nil {
		// Unrecorded, it would be an orphan: undo it (best effort; the
		// next verification deletes it otherwise).
		if derr := cs.Graph.DeleteSubscription(context.WithoutCancel(ctx), id); derr != nil {
			s.Log.Warn("notify: could not delete a subscription the state failed to record", "connection", cs.Name, "subscription", id, "error", derr)
		}
	}
	return err
}

// lifecycle handles a Graph lifecycle event (its clientState checked) away
// from the workers: reauthorizationRequired → renew; subscriptionRemoved →
// recreate; missed → nothing more. Each also triggers a pull, since
// notifications may have been lost around it.
func (s *Service) lifecycle(name, id, event string) {
	// One handling per subscription and event at a time: Graph may repeat
	// an event (a delivery may hold it many times), and each copy must not
	// be its own goroutine and its own call to Graph.
	key := name + "\x00" + id + "\x00" + event
	s.mu.Lock()
	ctx := s.ctx
	if s.inLifecycle == nil {
		s.inLifecycle = map[string]bool{}
	}
	busy := s.inLifecycle[key]
	s.inLifecycle[key] = true
	s.mu.Unlock()
	if busy {
		s.trigger(name, "graph lifecycle: "+event)
		return
	}
	s.wg.Go(func() {
		defer s.trigger(name, "graph lifecycle: "+event)
		defer func() {
			s.mu.Lock()
			delete(s.inLifecycle, key)
			s.mu.Unlock()
		}()
		cs := s.lookup(name)
		if cs == nil || cs.Graph == nil {
			return
		}
		if !s.owns(name) {
			// The holder's upkeep renews what is due and, at its next
			// verification, recreates what Graph removed.
			s.Log.Info("notify: Graph lifecycle event for a connection another daemon holds; left to its upkeep",
				"connection", name, "event", event, "subscription", id)
			return
		}
		var err error
		switch event {
		case "reauthorizationRequired":
			err = s.renewID(ctx, cs, id)
		case "subscriptionRemoved":
			err = s.recreate(ctx, cs, id)
		case "missed":
		default:
			s.Log.Info("notify: unknown Graph lifecycle event; pulling", "connection", name, "event", event)
		}
		if err != nil && ctx.Err() == nil {
			s.Log.Warn("notify: handling a Graph lifecycle event failed; the upkeep tries again", "connection", name,
				"event", event, "subscription", id, "error", err)
		}
	})
}

func (s *Service) find(ctx context.Context, name, id string) (state.NotifySubscription, bool, error) {
	subs, _, err := s.subs(ctx, name)
	for _, sub := range subs {
		if sub.ID == id {
			return sub, true, err
		}
	}
	return state.NotifySubscription{}, false, err
}

func (s *Service) renewID(ctx context.Context, cs *connState, id string) error {
	l := s.lock(cs.Name)
	l.Lock()
	defer l.Unlock()
	sub, ok, err := s.find(ctx, cs.Name, id)
	if err != nil || !ok {
		return err
	}
	return s.keep(ctx, cs, sub, false, true)
}

func (s *Service) recreate(ctx context.Context, cs *connState, id string) error {
	l := s.lock(cs.Name)
	l.Lock()
	defer l.Unlock()
	sub, ok, err := s.find(ctx, cs.Name, id)
	if err != nil || !ok {
		return err
	}
	if err := s.forget(ctx, cs.Name, id); err != nil {
		return err
	}
	if _, off, err := s.subs(ctx, cs.Name); err != nil || off {
		return err
	}
	return s.create(ctx, cs, sub.Resource)
}

// Off deletes the connection's subscriptions (Graph) or event hook (Okta,
// where the source may) and turns its notifications off until On. It
// returns what was deleted.
func (s *Service) Off(ctx context.Context, name string) ([]state.NotifySubscription, error) {
	cs := s.lookup(name)
	l := s.lock(name)
	l.Lock()
	defer l.Unlock()
	if err := s.Store.Update(ctx, func(tx *state.Tx) error { return tx.SetNotifyOff(name, true) }); err != nil {
		return nil, err
	}
	subs, _, err := s.subs(ctx, name)
	if err != nil {
		return nil, err
	}
	var done []state.NotifySubscription
	for _, sub := range subs {
		switch {
		case sub.Kind == KindGraph && cs != nil && cs.Graph != nil:
			err = cs.Graph.DeleteSubscription(ctx, sub.ID)
		case sub.Kind == KindOkta && sub.Status != StatusManual && cs != nil && cs.Hooks != nil:
			err = cs.Hooks.DeleteHook(ctx, sub.ID)
		}
		if err != nil {
			return done, fmt.Errorf("delete %s %s: %w", sub.Resource, sub.ID, err)
		}
		if err := s.forget(ctx, name, sub.ID); err != nil {
			return done, err
		}
		done = append(done, sub)
	}
	return done, nil
}

// On turns the connection's notifications back on; the daemon creates its
// Graph subscriptions at its next upkeep.
func (s *Service) On(ctx context.Context, name string) error {
	return s.Store.Update(ctx, func(tx *state.Tx) error { return tx.SetNotifyOff(name, false) })
}

// Okta hook statuses.
const (
	StatusVerified   = "verified"
	StatusUnverified = "unverified"
	StatusManual     = "manual" // set up in the Okta console; idsync only knows its secret
)

// RegisterOkta creates the connection's event hook through the Okta API
// (the token needs okta.eventHooks.manage) with a new random secret in
// its Authorization header, records the secret's SHA-256, and asks Okta to
// verify it, which calls the endpoint: the daemon must be serving it. An
// earlier hook of the connection is deleted first. It returns the hook id.
func (s *Service) RegisterOkta(ctx context.Context, name string) (string, error) {
	cs := s.lookup(name)
	if cs == nil || !cs.Okta || cs.Hooks == nil {
		return "", fmt.Errorf("notify: %s is not an Okta connection with a notify block", name)
	}
	if _, err := s.Off(ctx, name); err != nil {
		return "", err
	}
	if err := s.On(ctx, name); err != nil {
		return "", err
	}
	secret := newSecret()
	id, err := cs.Hooks.RegisterHook(ctx, "idsync "+name, cs.HookURL, secret, EventTypes)
	if err != nil {
		return "", err
	}
	sub := state.NotifySubscription{Connection: name, ID: id, Kind: KindOkta, Resource: "eventHook",
		SecretHash: hashSecret(secret), CreatedAt: s.Now(), Status: StatusUnverified, URL: cs.HookURL}
	if err := s.save(ctx, sub); err != nil {
		// Unrecorded, nothing would ever delete it (off and the next
		// register delete what the state knows): undo it.
		if derr := cs.Hooks.DeleteHook(context.WithoutCancel(ctx), id); derr != nil {
			s.Log.Warn("notify: could not delete an event hook the state failed to record; delete it in the Okta Admin Console",
				"connection", name, "hook", id, "error", derr)
		}
		return "", fmt.Errorf("record event hook %s: %w", id, err)
	}
	if err := cs.Hooks.VerifyHook(ctx, id); err != nil {
		return id, fmt.Errorf("verify event hook %s (Okta calls %s: is the daemon running and notify.public_url served?): %w", id, cs.HookURL, err)
	}
	sub.Status = StatusVerified
	return id, s.save(ctx, sub)
}

// ManualOkta records a new secret for an event hook set up by hand in the
// Okta console and returns it, to be pasted there once (it is not stored).
func (s *Service) ManualOkta(ctx context.Context, name string) (string, error) {
	cs := s.lookup(name)
	if cs == nil || !cs.Okta {
		return "", fmt.Errorf("notify: %s is not an Okta connection with a notify block", name)
	}
	if _, err := s.Off(ctx, name); err != nil {
		return "", err
	}
	if err := s.On(ctx, name); err != nil {
		return "", err
	}
	secret := newSecret()
	return secret, s.save(ctx, state.NotifySubscription{Connection: name, ID: "manual", Kind: KindOkta, Resource: "eventHook",
		SecretHash: hashSecret(secret), CreatedAt: s.Now(), Status: StatusManual, URL: cs.HookURL})
}
