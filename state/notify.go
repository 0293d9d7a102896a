package state

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// NotifySubscription is a change-notification channel the daemon owns: a
// Graph subscription (Kind "graph", Resource "users" or "groups") or an
// Okta event hook (Kind "okta", Resource "eventHook"). SecretHash is the
// SHA-256 (hex) of its clientState or hook secret, never the secret.
type NotifySubscription struct {
	Connection string    `json:"connection"`
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Resource   string    `json:"resource"`
	SecretHash string    `json:"-"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"` // zero: does not expire
	CreatedAt  time.Time `json:"created_at"`
	RenewedAt  time.Time `json:"renewed_at,omitzero"`
	Status     string    `json:"status,omitempty"` // e.g. "verified", "unverified"
	URL        string    `json:"url,omitempty"`    // where the IdP delivers
}

// NotifySubscriptions lists the channels of conn ("" = every connection),
// by connection, kind and resource.
func (tx *Tx) NotifySubscriptions(conn string) ([]NotifySubscription, error) {
	out, err := queryAll(tx, func(r *sql.Rows) (NotifySubscription, error) {
		var s NotifySubscription
		var exp, created, renewed string
		err := r.Scan(&s.Connection, &s.ID, &s.Kind, &s.Resource, &s.SecretHash, &exp, &created, &renewed, &s.Status, &s.URL)
		s.ExpiresAt, s.CreatedAt, s.RenewedAt = parseTime(exp), parseTime(created), parseTime(renewed)
		return s, err
	}, `SELECT connection, id, kind, resource, secret_hash, expires_at, created_at, renewed_at, status, url
		FROM notify_subscriptions WHERE (? = '' OR connection = ?) ORDER BY connection, kind, resource, id`, conn, conn)
	if err != nil {
		return nil, fmt.Errorf("state: read notification subscriptions: %w", err)
	}
	return out, nil
}

// SaveNotifySubscription records s, replacing the row with its connection
// and id.
func (tx *Tx) SaveNotifySubscription(s NotifySubscription) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = tx.store.Now()
	}
	if _, err := tx.exec(`INSERT INTO notify_subscriptions
		(connection, id, kind, resource, secret_hash, expires_at, created_at, renewed_at, status, url)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (connection, id) DO UPDATE SET kind = excluded.kind, resource = excluded.resource,
			secret_hash = excluded.secret_hash, expires_at = excluded.expires_at,
			renewed_at = excluded.renewed_at, status = excluded.status, url = excluded.url`,
		s.Connection, s.ID, s.Kind, s.Resource, s.SecretHash, fmtTime(s.ExpiresAt), fmtTime(s.CreatedAt),
		fmtTime(s.RenewedAt), s.Status, s.URL); err != nil {
		return fmt.Errorf("state: save notification subscription: %w", err)
	}
	return nil
}

// DeleteNotifySubscription forgets one channel.
func (tx *Tx) DeleteNotifySubscription(conn, id string) error {
	if _, err := tx.exec(`DELETE FROM notify_subscriptions WHERE connection = ? AND id = ?`, conn, id); err != nil {
		return fmt.Errorf("state: delete notification subscription: %w", err)
	}
	return nil
}

// NotifyOff reports whether notifications were turned off for conn.
func (tx *Tx) NotifyOff(conn string) (bool, error) {
	var at string
	err := tx.tx.QueryRowContext(tx.ctx, `SELECT off_at FROM notify_off WHERE connection = ?`, conn).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: read notify off: %w", err)
	}
	return true, nil
}

// SetNotifyOff turns notifications off (or back on) for conn.
func (tx *Tx) SetNotifyOff(conn string, off bool) error {
	var err error
	if off {
		_, err = tx.exec(`INSERT INTO notify_off (connection, off_at) VALUES (?, ?)
			ON CONFLICT (connection) DO UPDATE SET off_at = excluded.off_at`, conn, tx.now())
	} else {
		_, err = tx.exec(`DELETE FROM notify_off WHERE connection = ?`, conn)
	}
	if err != nil {
		return fmt.Errorf("state: set notify off: %w", err)
	}
	return nil
}
