package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/subscriptions"

	"github.com/idsync/idsync/sources"
)

// Change notifications (issue 14). idsync subscribes to `users` and
// `groups` with changeType "updated,deleted" — what Graph supports for
// them; a new user or group arrives as "updated" — and uses each
// notification only as a trigger for a delta pull. Graph's longest
// subscription on these resources is 41,760 minutes (29 days); the daemon
// asks for less and renews well before expiry (package notify).
//
// Permissions (application, admin consent): creating a subscription needs
// read access to its resource — User.Read.All for users (already needed
// for the pull) and Group.Read.All for groups (GroupMember.Read.All, which
// the pull needs, is not enough for a subscription on groups).

// MaxSubscriptionLifetime is the longest expiration Graph accepts for a
// subscription on users or groups.
const MaxSubscriptionLifetime = 41760 * time.Minute

// SubscriptionChangeType is what idsync subscribes to on users and groups.
const SubscriptionChangeType = "updated,deleted"

// ErrSubscriptionNotFound is returned when Graph no longer has a
// subscription (expired, removed): the caller creates a new one.
var ErrSubscriptionNotFound = sources.ErrSubscriptionGone

var _ sources.Subscriber = (*Source)(nil)

// CreateSubscription subscribes notificationURL to changes of resource
// ("users" or "groups") until expires, with clientState, which Graph sends
// back in every notification. Graph validates both URLs before it answers
// (a POST with ?validationToken= each must echo within 10 s). It returns
// the subscription's id and the expiry Graph granted.
func (s *Source) CreateSubscription(ctx context.Context, resource, notificationURL, lifecycleURL, clientState string,
	expires time.Time) (string, time.Time, error) {
	body := models.NewSubscription()
	changeType := SubscriptionChangeType
	body.SetChangeType(&changeType)
	body.SetResource(&resource)
	body.SetNotificationUrl(&notificationURL)
	body.SetLifecycleNotificationUrl(&lifecycleURL)
	body.SetClientState(&clientState)
	exp := expires.UTC()
	body.SetExpirationDateTime(&exp)
	tls := "v1_2"
	body.SetLatestSupportedTlsVersion(&tls)
	rb := subscriptions.NewSubscriptionsRequestBuilderInternal(map[string]string{}, s.adapter)
	got, err := rb.Post(ctx, body, nil)
	if err != nil {
		return "", time.Time{}, s.subscriptionError("create subscription on "+resource, err)
	}
	id := str(got.GetId())
	if id == "" {
		return "", time.Time{}, fmt.Errorf("entra: create subscription on %s: Graph answered without an id", resource)
	}
	granted := expires
	if e := got.GetExpirationDateTime(); e != nil {
		granted = *e
	}
	return id, granted, nil
}

// RenewSubscription moves subscription id's expiry to expires (PATCH), as
// Graph wants both for renewal and after reauthorizationRequired, and
// returns the expiry Graph granted. ErrSubscriptionNotFound: it is gone.
func (s *Source) RenewSubscription(ctx context.Context, id string, expires time.Time) (time.Time, error) {
	body := models.NewSubscription()
	exp := expires.UTC()
	body.SetExpirationDateTime(&exp)
	rb := subscriptions.NewSubscriptionsRequestBuilderInternal(map[string]string{}, s.adapter).BySubscriptionId(id)
	got, err := rb.Patch(ctx, body, nil)
	if err != nil {
		return time.Time{}, s.subscriptionError("renew subscription "+id, err)
	}
	if got != nil && got.GetExpirationDateTime() != nil {
		return *got.GetExpirationDateTime(), nil
	}
	return expires, nil
}

// SubscriptionExpiry reads subscription id's expiry from Graph, to notice
// one that was removed without a lifecycle notification.
// ErrSubscriptionNotFound: it is gone.
func (s *Source) SubscriptionExpiry(ctx context.Context, id string) (time.Time, error) {
	rb := subscriptions.NewSubscriptionsRequestBuilderInternal(map[string]string{}, s.adapter).BySubscriptionId(id)
	got, err := rb.Get(ctx, nil)
	if err != nil {
		return time.Time{}, s.subscriptionError("read subscription "+id, err)
	}
	if got == nil || got.GetExpirationDateTime() == nil {
		return time.Time{}, nil
	}
	return *got.GetExpirationDateTime(), nil
}

var _ sources.SubscriptionLister = (*Source)(nil)

// ListSubscriptions lists the subscriptions Graph holds for this
// application (every page).
func (s *Source) ListSubscriptions(ctx context.Context) ([]sources.Subscription, error) {
	rb := subscriptions.NewSubscriptionsRequestBuilderInternal(map[string]string{}, s.adapter)
	var out []sources.Subscription
	for page := 0; page < 100; page++ {
		got, err := rb.Get(ctx, nil)
		if err != nil {
			return nil, s.subscriptionError("list subscriptions", err)
		}
		for _, sub := range got.GetValue() {
			out = append(out, sources.Subscription{ID: str(sub.GetId()), Resource: str(sub.GetResource()),
				NotificationURL: str(sub.GetNotificationUrl())})
		}
		next := str(got.GetOdataNextLink())
		if next == "" {
			break
		}
		rb = rb.WithUrl(next)
	}
	return out, nil
}

// DeleteSubscription deletes subscription id; one Graph no longer has is
// not an error.
func (s *Source) DeleteSubscription(ctx context.Context, id string) error {
	rb := subscriptions.NewSubscriptionsRequestBuilderInternal(map[string]string{}, s.adapter).BySubscriptionId(id)
	err := rb.Delete(ctx, nil)
	if err != nil {
		err = s.subscriptionError("delete subscription "+id, err)
		if errors.Is(err, ErrSubscriptionNotFound) {
			return nil
		}
	}
	return err
}

// subscriptionError is graphError with 404 as ErrSubscriptionNotFound and
// 403 explained with the permissions a subscription needs.
func (s *Source) subscriptionError(op string, err error) error {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		switch oe.ResponseStatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("entra: %s: %w", op, ErrSubscriptionNotFound)
		case http.StatusForbidden:
			return fmt.Errorf("entra: %s: client_id %s may not subscribe; grant the application permissions "+
				"User.Read.All and Group.Read.All with admin consent: %w", op, s.cfg.ClientID, s.graphError(op, err))
		}
	}
	return s.graphError(op, err)
}
