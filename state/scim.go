package state

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PushResource is one resource an IdP pushed to a push connection's SCIM
// listener (source.type: scim), as the listener serves it back. The
// connection's snapshot holds the same user or group as idsync's domain
// types; this row keeps the resource as sent.
type PushResource struct {
	Kind       string // "User" | "Group"
	ID         string // assigned by the listener; never changes
	UserName   string // users: as sent; unique per connection, compared lower-cased
	ExternalID string // the sender's id, not unique
	Attrs      []byte // the resource's JSON object without id and meta
	Version    int64  // 1 on create, +1 on every write
	Created    time.Time
	Modified   time.Time
}

// ErrUserNameTaken is returned by PutPushResource when another user of the
// connection holds the userName (compared case-insensitively).
var ErrUserNameTaken = errors.New("state: userName already held by another user of the connection")

// userNameKey is how userNames are compared: RFC 7643 makes userName
// caseExact false. Lower-cased here, not with SQL's lower() (which differs
// between SQLite, ASCII only, and PostgreSQL).
func userNameKey(s string) string { return strings.ToLower(s) }

const pushCols = `kind, id, user_name, external_id, attrs, version, created_at, modified_at`

func scanPush(r interface{ Scan(...any) error }) (*PushResource, error) {
	var p PushResource
	var attrs, created, modified string
	if err := r.Scan(&p.Kind, &p.ID, &p.UserName, &p.ExternalID, &attrs, &p.Version, &created, &modified); err != nil {
		return nil, err
	}
	p.Attrs = []byte(attrs)
	p.Created, p.Modified = parseTime(created), parseTime(modified)
	return &p, nil
}

func (tx *Tx) pushOne(query string, args ...any) (*PushResource, error) {
	st, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	p, err := scanPush(st.QueryRowContext(tx.ctx, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

// PushResource returns the connection's resource of kind with id, or nil
// when there is none.
func (tx *Tx) PushResource(conn, kind, id string) (*PushResource, error) {
	p, err := tx.pushOne(`SELECT `+pushCols+` FROM scim_resources WHERE connection = ? AND kind = ? AND id = ?`, conn, kind, id)
	if err != nil {
		return nil, fmt.Errorf("state: read pushed %s %s: %w", kind, id, err)
	}
	return p, nil
}

// PushUserByName returns the connection's user whose userName is userName
// compared case-insensitively, or nil.
func (tx *Tx) PushUserByName(conn, userName string) (*PushResource, error) {
	p, err := tx.pushOne(`SELECT `+pushCols+` FROM scim_resources WHERE connection = ? AND kind = 'User' AND user_name_key = ?`,
		conn, userNameKey(userName))
	if err != nil {
		return nil, fmt.Errorf("state: read pushed user by userName: %w", err)
	}
	return p, nil
}

// PushResources returns up to limit resources of kind with an id after
// after, in ascending id order (a stable order for paging).
func (tx *Tx) PushResources(conn, kind, after string, limit int) ([]*PushResource, error) {
	out, err := queryAll(tx, func(r *sql.Rows) (*PushResource, error) { return scanPush(r) },
		`SELECT `+pushCols+` FROM scim_resources WHERE connection = ? AND kind = ? AND id > ? ORDER BY id LIMIT ?`,
		conn, kind, after, limit)
	if err != nil {
		return nil, fmt.Errorf("state: list pushed %ss: %w", kind, err)
	}
	return out, nil
}

// PutPushResource creates or replaces p (by Kind and ID). It sets
// p.Version to the stored version + 1 (1 on create), p.Modified to now and,
// on create, p.Created. A user whose userName another user of the
// connection holds is ErrUserNameTaken.
func (tx *Tx) PutPushResource(conn string, p *PushResource) error {
	if p.Kind == "" || p.ID == "" {
		return errors.New("state: put pushed resource: kind and id are required")
	}
	key := ""
	if p.Kind == "User" {
		key = userNameKey(p.UserName)
		var other string
		// Prepared once (tx.stmt): it runs on every pushed user's write.
		st, err := tx.stmt(`SELECT id FROM scim_resources WHERE connection = ? AND kind = 'User' AND user_name_key = ? AND id <> ?`)
		if err != nil {
			return fmt.Errorf("state: put pushed user: %w", err)
		}
		err = st.QueryRowContext(tx.ctx, conn, key, p.ID).Scan(&other)
		switch {
		case err == nil:
			return ErrUserNameTaken
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("state: put pushed user: %w", err)
		}
	}
	old, err := tx.PushResource(conn, p.Kind, p.ID)
	if err != nil {
		return err
	}
	now := tx.store.Now().UTC()
	p.Modified = now
	if old == nil {
		p.Version, p.Created = 1, now
	} else {
		p.Version, p.Created = old.Version+1, old.Created
	}
	if _, err := tx.exec(`INSERT INTO scim_resources (connection, kind, id, user_name, user_name_key, external_id, attrs, version, created_at, modified_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (connection, kind, id) DO UPDATE SET user_name = excluded.user_name, user_name_key = excluded.user_name_key,
		external_id = excluded.external_id, attrs = excluded.attrs, version = excluded.version, modified_at = excluded.modified_at`,
		conn, p.Kind, p.ID, p.UserName, key, p.ExternalID, string(p.Attrs), p.Version,
		p.Created.Format(time.RFC3339Nano), p.Modified.Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("state: put pushed %s %s: %w", p.Kind, p.ID, err)
	}
	return nil
}

// DeletePushResource removes the resource; it reports whether there was one.
func (tx *Tx) DeletePushResource(conn, kind, id string) (bool, error) {
	res, err := tx.exec(`DELETE FROM scim_resources WHERE connection = ? AND kind = ? AND id = ?`, conn, kind, id)
	if err != nil {
		return false, fmt.Errorf("state: delete pushed %s %s: %w", kind, id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// PushGroupsOf returns the ids of the groups whose snapshot membership
// lists member directly (the groups a deleted user must leave).
func (tx *Tx) PushGroupsOf(conn, member string) ([]string, error) {
	ids, err := queryAll(tx, scanString, `SELECT group_id FROM source_members WHERE connection = ? AND member_id = ? ORDER BY group_id`, conn, member)
	if err != nil {
		return nil, fmt.Errorf("state: groups of %s: %w", member, err)
	}
	return ids, nil
}

// PushStats is what `idsync status` shows of a push connection.
type PushStats struct {
	Users    int       `json:"users"`
	Groups   int       `json:"groups"`
	LastPush time.Time `json:"last_push,omitzero"` // the latest write (zero: none yet)
}

// PushStats counts the connection's pushed resources.
func (tx *Tx) PushStats(conn string) (PushStats, error) {
	var s PushStats
	var last sql.NullString
	err := tx.tx.QueryRowContext(tx.ctx, `SELECT
		COALESCE(SUM(CASE WHEN kind = 'User' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN kind = 'Group' THEN 1 ELSE 0 END), 0),
		MAX(modified_at) FROM scim_resources WHERE connection = ?`, conn).Scan(&s.Users, &s.Groups, &last)
	if err != nil {
		return PushStats{}, fmt.Errorf("state: count pushed resources: %w", err)
	}
	s.LastPush = parseTime(last.String)
	return s, nil
}
