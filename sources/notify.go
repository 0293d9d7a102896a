package sources

import (
	"context"
	"errors"
	"time"
)

// Subscriber is a source that can ask its IdP for change notifications
// (Microsoft Graph subscriptions). Notifications are hints: the pull they
// trigger reads the source's own cursor, so a lost or forged one costs at
// most latency.
type Subscriber interface {
	// CreateSubscription subscribes notificationURL (and lifecycleURL for
	// lifecycle events) to changes of resource until expires, with
	// clientState sent back in every notification; it returns the
	// subscription's id and the expiry the IdP granted.
	CreateSubscription(ctx context.Context, resource, notificationURL, lifecycleURL, clientState string, expires time.Time) (string, time.Time, error)
	// RenewSubscription moves id's expiry to expires and returns the one
	// granted.
	RenewSubscription(ctx context.Context, id string, expires time.Time) (time.Time, error)
	// SubscriptionExpiry reads id's expiry from the IdP.
	SubscriptionExpiry(ctx context.Context, id string) (time.Time, error)
	// DeleteSubscription deletes id; one already gone is not an error.
	DeleteSubscription(ctx context.Context, id string) error
}

// ErrSubscriptionGone is returned (wrapped) by a Subscriber for a
// subscription the IdP no longer has: the caller creates a new one.
var ErrSubscriptionGone = errors.New("subscription gone")

// HookRegistrar is a source that can register an event hook with its IdP
// (Okta event hooks): deliveries to url carry authorization in their
// Authorization header.
type HookRegistrar interface {
	// RegisterHook creates an event hook named name for eventTypes
	// delivered to url, and returns its id.
	RegisterHook(ctx context.Context, name, url, authorization string, eventTypes []string) (string, error)
	// VerifyHook asks the IdP to run the hook's one-time verification (a
	// call to url) and reports its error.
	VerifyHook(ctx context.Context, id string) error
	// DeleteHook deactivates and deletes hook id; one already gone is not
	// an error.
	DeleteHook(ctx context.Context, id string) error
}

// SubscriptionLister is a Subscriber that can list the subscriptions the
// IdP holds for this application, so the owner can delete the ones it
// created but never recorded (it died between the IdP's answer and its
// commit): they would deliver to its endpoint until they expire.
type SubscriptionLister interface {
	ListSubscriptions(ctx context.Context) ([]Subscription, error)
}

// Subscription is a subscription as the IdP lists it.
type Subscription struct {
	ID, Resource, NotificationURL string
}
