package state

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/idsync/idsync"
)

// chunk is how many ids go in one IN (...) list.
const chunk = 500

// inChunks runs f over ids, chunk at a time, with the placeholder list for the chunk.
func inChunks(ids []string, f func(placeholders string, args []any) error) error {
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		if err := f(strings.TrimSuffix(strings.Repeat("?,", n), ","), args); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// pairMap runs query (selecting key, value pairs of conn), narrowed to
// rows whose keyCol is in ids, or with ids nil to rows matching all, and
// groups values by key. (all is left out of the IN form so the planner
// keeps to the keyCol index.)
func (tx *Tx) pairMap(query, all, keyCol, conn string, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	add := func(q string, args ...any) error {
		pairs, err := queryAll(tx, scanPair, q, args...)
		for _, p := range pairs {
			out[p[0]] = append(out[p[0]], p[1])
		}
		return err
	}
	if ids == nil {
		return out, add(query+all, conn)
	}
	return out, inChunks(ids, func(ph string, args []any) error {
		return add(query+` AND `+keyCol+` IN (`+ph+`)`, append([]any{conn}, args...)...)
	})
}

// GroupRow is a snapshot group.
type GroupRow struct {
	ID, Name, Description string
}

// Groups returns every group of the connection.
func (tx *Tx) Groups(conn string) ([]GroupRow, error) {
	out, err := queryAll(tx, func(r *sql.Rows) (GroupRow, error) {
		var g GroupRow
		return g, r.Scan(&g.ID, &g.Name, &g.Description)
	}, `SELECT id, name, description FROM source_groups WHERE connection = ? ORDER BY id`, conn)
	if err != nil {
		return nil, fmt.Errorf("state: read groups: %w", err)
	}
	return out, nil
}

// GroupEdges returns every group-in-group membership as {parent, child}.
func (tx *Tx) GroupEdges(conn string) ([][2]string, error) {
	out, err := queryAll(tx, scanPair, `SELECT group_id, member_id FROM source_members WHERE connection = ? AND member_kind = ?`,
		conn, string(idsync.MemberGroup))
	if err != nil {
		return nil, fmt.Errorf("state: read nested groups: %w", err)
	}
	return out, nil
}

const selectUser = `SELECT id, ` + userCols + `, removed FROM source_users`

func scanUser(r *sql.Rows) (idsync.User, error) {
	var u idsync.User
	err := r.Scan(&u.ID, &u.UserName, &u.Email, &u.GivenName, &u.FamilyName, &u.DisplayName, &u.EmployeeID, &u.Title, &u.Department,
		&u.Status, &u.Removed)
	return u, err
}

// Users returns the snapshot users with the given ids (missing ids are skipped).
func (tx *Tx) Users(conn string, ids []string) ([]idsync.User, error) {
	var out []idsync.User
	err := inChunks(ids, func(ph string, args []any) error {
		us, err := queryAll(tx, scanUser, selectUser+` WHERE connection = ? AND id IN (`+ph+`)`,
			append([]any{conn}, args...)...)
		out = append(out, us...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("state: read users: %w", err)
	}
	return out, nil
}

// AllUsers returns every snapshot user of the connection.
func (tx *Tx) AllUsers(conn string) ([]idsync.User, error) {
	out, err := queryAll(tx, scanUser, selectUser+` WHERE connection = ?`, conn)
	if err != nil {
		return nil, fmt.Errorf("state: read users: %w", err)
	}
	return out, nil
}

// UserGroups returns the direct groups of each given user (nil ids: of every user).
func (tx *Tx) UserGroups(conn string, ids []string) (map[string][]string, error) {
	m, err := tx.pairMap(`SELECT member_id, group_id FROM source_members WHERE connection = ?`, ` AND member_kind = 'user'`, "member_id", conn, ids)
	if err != nil {
		return nil, fmt.Errorf("state: read memberships: %w", err)
	}
	return m, nil
}

// GroupUsers returns the users who are direct members of any of the groups.
func (tx *Tx) GroupUsers(conn string, groups []string) ([]string, error) {
	var out []string
	err := inChunks(groups, func(ph string, args []any) error {
		ids, err := queryAll(tx, scanString, `SELECT DISTINCT member_id FROM source_members WHERE connection = ? AND member_kind = ? AND group_id IN (`+ph+`)`,
			append([]any{conn, string(idsync.MemberUser)}, args...)...)
		out = append(out, ids...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("state: read group members: %w", err)
	}
	return out, nil
}

// Assignments returns the app roles of each given principal (nil ids: of
// every principal). A principal with plain access has the role "".
func (tx *Tx) Assignments(conn string, principals []string) (map[string][]string, error) {
	m, err := tx.pairMap(`SELECT principal_id, role FROM source_assignments WHERE connection = ?`, "", "principal_id", conn, principals)
	if err != nil {
		return nil, fmt.Errorf("state: read assignments: %w", err)
	}
	return m, nil
}

// SnapshotCounts is the size of a connection's snapshot.
type SnapshotCounts struct {
	Users, Groups, Members, Assignments int
}

// Counts sizes the connection's snapshot.
func (tx *Tx) Counts(conn string) (SnapshotCounts, error) {
	var c SnapshotCounts
	for _, q := range []struct {
		dst   *int
		table string
	}{{&c.Users, "source_users"}, {&c.Groups, "source_groups"}, {&c.Members, "source_members"}, {&c.Assignments, "source_assignments"}} {
		if err := tx.tx.QueryRowContext(tx.ctx, `SELECT COUNT(*) FROM `+q.table+` WHERE connection = ?`, conn).Scan(q.dst); err != nil {
			return c, fmt.Errorf("state: count %s: %w", q.table, err)
		}
	}
	return c, nil
}
