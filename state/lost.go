package state

import (
	"database/sql"
	"fmt"
)

// Memberships drift reconcile found gone from the workspace keep their
// order number (see MemberOrder) until idsync puts them back: OfficeRnD's
// primary team is the first team applied, and a team deleted by hand and
// re-created must not become the last one.

// LoseGroupMembers forgets that users (nil: every member) are in applied
// group group, keeping the order each was first applied in for when
// SetAppliedMembers adds them again.
func (tx *Tx) LoseGroupMembers(conn, group string, users []string) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	const keep = `INSERT INTO applied_members_lost (connection, group_id, user_id, seq)
		SELECT connection, group_id, user_id, seq FROM applied_members WHERE connection = ? AND group_id = ?`
	const drop = `DELETE FROM applied_members WHERE connection = ? AND group_id = ?`
	const upsert = ` ON CONFLICT (connection, group_id, user_id) DO UPDATE SET seq = excluded.seq`
	if users == nil {
		if _, err := tx.exec(keep+upsert, conn, group); err != nil {
			return fmt.Errorf("state: keep lost memberships: %w", err)
		}
		if _, err := tx.exec(drop, conn, group); err != nil {
			return fmt.Errorf("state: keep lost memberships: %w", err)
		}
		return nil
	}
	for _, u := range users {
		if _, err := tx.exec(keep+` AND user_id = ?`+upsert, conn, group, u); err != nil {
			return fmt.Errorf("state: keep lost memberships: %w", err)
		}
		if _, err := tx.exec(drop+` AND user_id = ?`, conn, group, u); err != nil {
			return fmt.Errorf("state: keep lost memberships: %w", err)
		}
	}
	return nil
}

// LoseAppliedGroup forgets applied group id (deleted in the workspace by
// hand), keeping its members' order numbers (LoseGroupMembers).
func (tx *Tx) LoseAppliedGroup(conn, id string) error {
	if err := tx.LoseGroupMembers(conn, id, nil); err != nil {
		return err
	}
	if _, err := tx.exec(`DELETE FROM applied_groups WHERE connection = ? AND id = ?`, conn, id); err != nil {
		return fmt.Errorf("state: forget applied group: %w", err)
	}
	return nil
}

// LoseUserMembers keeps the order numbers of user's memberships before
// its applied account is forgotten (deleted in the workspace by hand).
func (tx *Tx) LoseUserMembers(conn, user string) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if _, err := tx.exec(`INSERT INTO applied_members_lost (connection, group_id, user_id, seq)
		SELECT connection, group_id, user_id, seq FROM applied_members WHERE connection = ? AND user_id = ?
		ON CONFLICT (connection, group_id, user_id) DO UPDATE SET seq = excluded.seq`, conn, user); err != nil {
		return fmt.Errorf("state: keep lost memberships: %w", err)
	}
	return nil
}

// LostMembers returns, for each given user (nil: every user), the groups
// of their lost memberships with the order number each keeps.
func (tx *Tx) LostMembers(conn string, users []string) (map[string]map[string]int64, error) {
	type row struct {
		user, group string
		seq         int64
	}
	scan := func(r *sql.Rows) (row, error) {
		var x row
		return x, r.Scan(&x.user, &x.group, &x.seq)
	}
	const q = `SELECT user_id, group_id, seq FROM applied_members_lost WHERE connection = ?`
	var rows []row
	var err error
	if users == nil {
		rows, err = queryAll(tx, scan, q, conn)
	} else {
		err = inChunks(users, func(ph string, args []any) error {
			rs, err := queryAll(tx, scan, q+` AND user_id IN (`+ph+`)`, append([]any{conn}, args...)...)
			rows = append(rows, rs...)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("state: read lost memberships: %w", err)
	}
	out := map[string]map[string]int64{}
	for _, r := range rows {
		if out[r.user] == nil {
			out[r.user] = map[string]int64{}
		}
		out[r.user][r.group] = r.seq
	}
	return out, nil
}

// DropLostMembers forgets lost memberships the IdP no longer wants
// ([group, user] pairs): joined again later, they come last.
func (tx *Tx) DropLostMembers(conn string, pairs [][2]string) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	for _, p := range pairs {
		if _, err := tx.exec(`DELETE FROM applied_members_lost WHERE connection = ? AND group_id = ? AND user_id = ?`, conn, p[0], p[1]); err != nil {
			return fmt.Errorf("state: forget lost memberships: %w", err)
		}
	}
	return nil
}
