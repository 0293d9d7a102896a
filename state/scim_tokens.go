package state

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Token is a bearer token of a push connection's SCIM listener. Only its
// SHA-256 is stored; the token itself is shown once, when created.
type Token struct {
	Connection string
	Name       string
	Hash       string // hex SHA-256 of the token
	Created    time.Time
	LastUsed   time.Time // zero: never used
	Expires    time.Time // zero: never expires
	Revoked    time.Time // zero: not revoked
}

// Valid reports whether the token may be used at now.
func (t Token) Valid(now time.Time) bool {
	return t.Revoked.IsZero() && (t.Expires.IsZero() || now.Before(t.Expires))
}

// ErrTokenExists is returned by CreateToken when the connection already has
// a token of that name that is not revoked.
var ErrTokenExists = errors.New("state: a token of that name exists")

// ErrNoToken is returned by RevokeToken for a name the connection has no
// token under.
var ErrNoToken = errors.New("state: no such token")

// CreateToken records a token (t.Created is set to now). A revoked token of
// the same name is replaced; a live one is ErrTokenExists.
func (tx *Tx) CreateToken(t *Token) error {
	t.Created = tx.store.Now().UTC()
	res, err := tx.exec(`INSERT INTO scim_tokens (connection, id, hash, created_at, last_used_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, '', ?, '')
		ON CONFLICT (connection, id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at, last_used_at = '',
		expires_at = excluded.expires_at, revoked_at = '' WHERE scim_tokens.revoked_at <> ''`,
		t.Connection, t.Name, t.Hash, fmtTime(t.Created), fmtTime(t.Expires))
	if err != nil {
		return fmt.Errorf("state: create token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrTokenExists
	}
	return nil
}

// Tokens lists the tokens of conn ("": of every connection), by connection
// and name.
func (tx *Tx) Tokens(conn string) ([]Token, error) {
	q := `SELECT connection, id, hash, created_at, last_used_at, expires_at, revoked_at FROM scim_tokens`
	var args []any
	if conn != "" {
		q += ` WHERE connection = ?`
		args = append(args, conn)
	}
	out, err := queryAll(tx, func(r *sql.Rows) (Token, error) {
		var t Token
		var c, l, e, rv string
		err := r.Scan(&t.Connection, &t.Name, &t.Hash, &c, &l, &e, &rv)
		t.Created, t.LastUsed, t.Expires, t.Revoked = parseTime(c), parseTime(l), parseTime(e), parseTime(rv)
		return t, err
	}, q+` ORDER BY connection, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("state: read tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes the named token of conn (ErrNoToken when there is
// none). Revoking a revoked token is harmless.
func (tx *Tx) RevokeToken(conn, name string) error {
	res, err := tx.exec(`UPDATE scim_tokens SET revoked_at = CASE WHEN revoked_at = '' THEN ? ELSE revoked_at END WHERE connection = ? AND id = ?`,
		tx.now(), conn, name)
	if err != nil {
		return fmt.Errorf("state: revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoToken
	}
	return nil
}

// TouchTokens records the last use of tokens (by hash).
func (tx *Tx) TouchTokens(used map[string]time.Time) error {
	for hash, at := range used {
		if _, err := tx.exec(`UPDATE scim_tokens SET last_used_at = ? WHERE hash = ? AND last_used_at < ?`,
			fmtTime(at), hash, fmtTime(at)); err != nil {
			return fmt.Errorf("state: record token use: %w", err)
		}
	}
	return nil
}
