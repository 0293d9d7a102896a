package state

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync"
)

// AppliedUser is a user as idsync last applied it to the target.
type AppliedUser struct {
	TargetID string
	Account  idsync.Account
}

const selectApplied = `SELECT target_id, id, user_name, email, given_name, family_name, display_name, employee_id, title, department,
	active, role FROM applied_users`

func scanApplied(r *sql.Rows) (AppliedUser, error) {
	var a AppliedUser
	x := &a.Account
	err := r.Scan(&a.TargetID, &x.ExternalID, &x.UserName, &x.Email, &x.GivenName, &x.FamilyName, &x.DisplayName, &x.EmployeeID,
		&x.Title, &x.Department, &x.Active, &x.Role)
	return a, err
}

// AppliedUsers returns the applied state of the given users (nil ids: of
// every applied user), keyed by IdP id.
func (tx *Tx) AppliedUsers(conn string, ids []string) (map[string]AppliedUser, error) {
	out := map[string]AppliedUser{}
	add := func(q string, args ...any) error {
		as, err := queryAll(tx, scanApplied, q, args...)
		for _, a := range as {
			out[a.Account.ExternalID] = a
		}
		return err
	}
	var err error
	if ids == nil {
		err = add(selectApplied+` WHERE connection = ?`, conn)
	} else {
		err = inChunks(ids, func(ph string, args []any) error {
			return add(selectApplied+` WHERE connection = ? AND id IN (`+ph+`)`, append([]any{conn}, args...)...)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("state: read applied users: %w", err)
	}
	return out, nil
}

// AppliedCount returns how many users idsync has applied to the target.
func (tx *Tx) AppliedCount(conn string) (int, error) {
	var n int
	if err := tx.tx.QueryRowContext(tx.ctx, `SELECT COUNT(*) FROM applied_users WHERE connection = ?`, conn).Scan(&n); err != nil {
		return 0, fmt.Errorf("state: count applied users: %w", err)
	}
	return n, nil
}

// ErrTargetTaken marks a workspace object idsync already records for
// another IdP object: one target id belongs to one applied user (group).
var ErrTargetTaken = errors.New("workspace object already belongs to another user or group")

// TargetTakenError names both IdP objects that claim one workspace object.
type TargetTakenError struct {
	Kind     string // "user" or "group"
	TargetID string
	Owner    string // the IdP object the target id is recorded for, "name (id)"
	Newcomer string // the one that was refused, "name (id)"
}

func (e *TargetTakenError) Error() string {
	return fmt.Sprintf("state: workspace %s %s is already recorded for %s; not recording it for %s too (one workspace %s belongs to one IdP %s): check both in the workspace",
		e.Kind, e.TargetID, e.Owner, e.Newcomer, e.Kind, e.Kind)
}

func (e *TargetTakenError) Unwrap() error { return ErrTargetTaken }

// targetOwner returns "name (id)" of the row of table other than id that
// holds targetID, or "" when none does. The unique index enforces the rule;
// this check names both sides in the error.
func (tx *Tx) targetOwner(table, nameCol, conn, id, targetID string) (string, error) {
	if targetID == "" {
		return "", nil
	}
	owners, err := queryAll(tx, func(r *sql.Rows) (string, error) {
		var oid, name string
		err := r.Scan(&oid, &name)
		return name + " (" + oid + ")", err
	}, `SELECT id, `+nameCol+` FROM `+table+` WHERE connection = ? AND target_id = ? AND target_id <> '' AND id <> ?`, conn, targetID, id)
	if err != nil || len(owners) == 0 {
		return "", err
	}
	return owners[0], nil
}

// TargetUser returns the IdP id of the applied user recorded with
// workspace id targetID, or "" when none is.
func (tx *Tx) TargetUser(conn, targetID string) (string, error) {
	id, err := tx.recordedFor("applied_users", conn, targetID)
	if err != nil {
		return "", fmt.Errorf("state: read applied user by workspace id: %w", err)
	}
	return id, nil
}

// TargetGroup returns the IdP id of the applied group recorded with
// workspace id targetID, or "" when none is.
func (tx *Tx) TargetGroup(conn, targetID string) (string, error) {
	id, err := tx.recordedFor("applied_groups", conn, targetID)
	if err != nil {
		return "", fmt.Errorf("state: read applied group by workspace id: %w", err)
	}
	return id, nil
}

// recordedFor is the id of table's row holding targetID (the unique index
// allows one; the empty-id condition lets the query use that partial index).
func (tx *Tx) recordedFor(table, conn, targetID string) (string, error) {
	if targetID == "" {
		return "", nil
	}
	ids, err := queryAll(tx, func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, `SELECT id FROM `+table+` WHERE connection = ? AND target_id = ? AND target_id <> ''`, conn, targetID)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

// SetAppliedUser records a as applied under the target's id. A target id
// recorded for another user is a *TargetTakenError and nothing is written.
func (tx *Tx) SetAppliedUser(conn, targetID string, a idsync.Account) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	owner, err := tx.targetOwner("applied_users", "user_name", conn, a.ExternalID, targetID)
	if err != nil {
		return fmt.Errorf("state: record applied user: %w", err)
	}
	if owner != "" {
		return &TargetTakenError{Kind: "user", TargetID: targetID, Owner: owner, Newcomer: a.UserName + " (" + a.ExternalID + ")"}
	}
	if _, err := tx.exec(`INSERT INTO applied_users (connection, id, target_id, user_name, email, given_name, family_name,
		display_name, employee_id, title, department, active, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (connection, id) DO UPDATE SET target_id = excluded.target_id, user_name = excluded.user_name,
		email = excluded.email, given_name = excluded.given_name, family_name = excluded.family_name,
		display_name = excluded.display_name, employee_id = excluded.employee_id, title = excluded.title,
		department = excluded.department, active = excluded.active, role = excluded.role`,
		conn, a.ExternalID, targetID, a.UserName, a.Email, a.GivenName, a.FamilyName, a.DisplayName, a.EmployeeID,
		a.Title, a.Department, a.Active, a.Role); err != nil {
		return fmt.Errorf("state: record applied user: %w", err)
	}
	return nil
}

// DeleteAppliedUser forgets a user deleted from the target, with its group memberships.
func (tx *Tx) DeleteAppliedUser(conn, id string) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if _, err := tx.exec(`DELETE FROM applied_users WHERE connection = ? AND id = ?`, conn, id); err != nil {
		return fmt.Errorf("state: forget applied user: %w", err)
	}
	if _, err := tx.exec(`DELETE FROM applied_members WHERE connection = ? AND user_id = ?`, conn, id); err != nil {
		return fmt.Errorf("state: forget applied user: %w", err)
	}
	return nil
}

// AppliedGroup is a group as idsync last applied it. Description is kept
// only for workspaces that take one.
type AppliedGroup struct {
	ID, TargetID, Name, Description string
}

// AppliedGroups returns every applied group, keyed by IdP id.
func (tx *Tx) AppliedGroups(conn string) (map[string]AppliedGroup, error) {
	gs, err := queryAll(tx, func(r *sql.Rows) (AppliedGroup, error) {
		var g AppliedGroup
		return g, r.Scan(&g.ID, &g.TargetID, &g.Name, &g.Description)
	}, `SELECT id, target_id, name, description FROM applied_groups WHERE connection = ?`, conn)
	if err != nil {
		return nil, fmt.Errorf("state: read applied groups: %w", err)
	}
	out := make(map[string]AppliedGroup, len(gs))
	for _, g := range gs {
		out[g.ID] = g
	}
	return out, nil
}

// AppliedGroup returns the applied state of group id (zero when none).
func (tx *Tx) AppliedGroup(conn, id string) (AppliedGroup, error) {
	gs, err := queryAll(tx, func(r *sql.Rows) (AppliedGroup, error) {
		var g AppliedGroup
		return g, r.Scan(&g.ID, &g.TargetID, &g.Name)
	}, `SELECT id, target_id, name FROM applied_groups WHERE connection = ? AND id = ?`, conn, id)
	if err != nil {
		return AppliedGroup{}, fmt.Errorf("state: read applied group: %w", err)
	}
	if len(gs) == 0 {
		return AppliedGroup{}, nil
	}
	return gs[0], nil
}

// SetAppliedGroup records a group as applied. A target id recorded for
// another group is a *TargetTakenError and nothing is written.
func (tx *Tx) SetAppliedGroup(conn string, g AppliedGroup) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	owner, err := tx.targetOwner("applied_groups", "name", conn, g.ID, g.TargetID)
	if err != nil {
		return fmt.Errorf("state: record applied group: %w", err)
	}
	if owner != "" {
		return &TargetTakenError{Kind: "group", TargetID: g.TargetID, Owner: owner, Newcomer: g.Name + " (" + g.ID + ")"}
	}
	if _, err := tx.exec(`INSERT INTO applied_groups (connection, id, target_id, name, description) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (connection, id) DO UPDATE SET target_id = excluded.target_id, name = excluded.name, description = excluded.description`,
		conn, g.ID, g.TargetID, g.Name, g.Description); err != nil {
		return fmt.Errorf("state: record applied group: %w", err)
	}
	return nil
}

// DeleteAppliedGroup forgets a group deleted from the target, with its members.
func (tx *Tx) DeleteAppliedGroup(conn, id string) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if _, err := tx.exec(`DELETE FROM applied_groups WHERE connection = ? AND id = ?`, conn, id); err != nil {
		return fmt.Errorf("state: forget applied group: %w", err)
	}
	if _, err := tx.exec(`DELETE FROM applied_members WHERE connection = ? AND group_id = ?`, conn, id); err != nil {
		return fmt.Errorf("state: forget applied group: %w", err)
	}
	if _, err := tx.exec(`DELETE FROM applied_members_lost WHERE connection = ? AND group_id = ?`, conn, id); err != nil {
		return fmt.Errorf("state: forget applied group: %w", err)
	}
	return nil
}

// AppliedMemberships returns, for each given user (nil: every user), the
// groups idsync has put them in.
func (tx *Tx) AppliedMemberships(conn string, users []string) (map[string][]string, error) {
	m, err := tx.pairMap(`SELECT user_id, group_id FROM applied_members WHERE connection = ?`, "", "user_id", conn, users)
	if err != nil {
		return nil, fmt.Errorf("state: read applied memberships: %w", err)
	}
	return m, nil
}

// SetAppliedMembers adds (add=true) or removes users from an applied group.
// Added memberships are numbered in the order they are recorded (see
// MemberOrder); one already recorded keeps its number.
func (tx *Tx) SetAppliedMembers(conn, group string, users []string, add bool) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	if !add {
		for _, u := range users {
			if _, err := tx.exec(`DELETE FROM applied_members WHERE connection = ? AND group_id = ? AND user_id = ?`, conn, group, u); err != nil {
				return fmt.Errorf("state: record group members: %w", err)
			}
		}
		return nil
	}
	var seq int64
	if err := tx.tx.QueryRowContext(tx.ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM applied_members WHERE connection = ?`, conn).Scan(&seq); err != nil {
		return fmt.Errorf("state: record group members: %w", err)
	}
	for _, u := range users {
		// A membership put back after drift keeps its number (lost.go).
		if _, err := tx.exec(`INSERT INTO applied_members (connection, group_id, user_id, seq) VALUES (?, ?, ?,
			COALESCE((SELECT seq FROM applied_members_lost WHERE connection = ? AND group_id = ? AND user_id = ?), ?)) ON CONFLICT DO NOTHING`,
			conn, group, u, conn, group, u, seq); err != nil {
			return fmt.Errorf("state: record group members: %w", err)
		}
	}
	pairs := make([][2]string, len(users))
	for i, u := range users {
		pairs[i] = [2]string{group, u}
	}
	return tx.DropLostMembers(conn, pairs)
}

// MemberOrder returns, for each given user (nil: every user), the groups
// idsync has put them in, in the order each membership was first applied
// (OfficeRnD: the first is the primary team). Memberships recorded before
// the order was kept come first, by group id.
func (tx *Tx) MemberOrder(conn string, users []string) (map[string][]string, error) {
	type row struct {
		user, group string
		seq         int64
	}
	var rows []row
	scan := func(r *sql.Rows) (row, error) {
		var x row
		return x, r.Scan(&x.user, &x.group, &x.seq)
	}
	const q = `SELECT user_id, group_id, seq FROM applied_members WHERE connection = ?`
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
		return nil, fmt.Errorf("state: read membership order: %w", err)
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.group, b.group))
	})
	out := map[string][]string{}
	for _, r := range rows {
		out[r.user] = append(out[r.user], r.group)
	}
	return out, nil
}
