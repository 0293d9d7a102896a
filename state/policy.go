package state

import (
	"database/sql"
	"errors"
	"fmt"
)

// PolicyFingerprint returns the fingerprint of the policy the connection's
// last enqueued plan was made with, or "" when none was recorded.
func (tx *Tx) PolicyFingerprint(conn string) (string, error) {
	var fp string
	err := tx.tx.QueryRowContext(tx.ctx, `SELECT fingerprint FROM policy_fingerprints WHERE connection = ?`, conn).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("state: read policy fingerprint: %w", err)
	}
	return fp, nil
}

// SavePolicyFingerprint records the policy a plan was made with; the engine
// calls it in the transaction that enqueues that plan.
func (tx *Tx) SavePolicyFingerprint(conn, fp string) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if _, err := tx.exec(`INSERT INTO policy_fingerprints (connection, fingerprint, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (connection) DO UPDATE SET fingerprint = excluded.fingerprint, updated_at = excluded.updated_at`,
		conn, fp, tx.now()); err != nil {
		return fmt.Errorf("state: save policy fingerprint: %w", err)
	}
	return nil
}
