package state

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/idsync/idsync"
)

// Cursor is a connection's saved pull position.
type Cursor struct {
	Cursor    string
	UpdatedAt time.Time // when a pull last completed (zero: never)
	FullAt    time.Time // when a full read last completed (zero: never)
}

// Cursor returns the connection's saved cursor (zero when it has none).
func (tx *Tx) Cursor(conn string) (Cursor, error) {
	var c Cursor
	var updated, full string
	err := tx.tx.QueryRowContext(tx.ctx, `SELECT cursor, updated_at, full_at FROM cursors WHERE connection = ?`, conn).
		Scan(&c.Cursor, &updated, &full)
	if errors.Is(err, sql.ErrNoRows) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("state: read cursor: %w", err)
	}
	c.UpdatedAt, c.FullAt = parseTime(updated), parseTime(full)
	return c, nil
}

// NextGeneration starts a pull: it returns a generation number no earlier
// pull of the connection used, so a sweep after a full read can tell what
// this read saw from what an aborted earlier one touched.
func (tx *Tx) NextGeneration(conn string) (int64, error) {
	if err := tx.fenced(conn); err != nil {
		return 0, err
	}
	if _, err := tx.exec(`INSERT INTO cursors (connection, cursor, generation, updated_at) VALUES (?, '', 1, '')
		ON CONFLICT (connection) DO UPDATE SET generation = cursors.generation + 1`, conn); err != nil {
		return 0, fmt.Errorf("state: next generation: %w", err)
	}
	var gen int64
	if err := tx.tx.QueryRowContext(tx.ctx, `SELECT generation FROM cursors WHERE connection = ?`, conn).Scan(&gen); err != nil {
		return 0, fmt.Errorf("state: next generation: %w", err)
	}
	return gen, nil
}

// SaveCursor records a completed pull; full marks it a complete read.
func (tx *Tx) SaveCursor(conn, cursor string, full bool) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	now := tx.now()
	fullAt := ""
	if full {
		fullAt = now
	}
	_, err := tx.exec(`INSERT INTO cursors (connection, cursor, generation, updated_at, full_at) VALUES (?, ?, 0, ?, ?)
		ON CONFLICT (connection) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at,
		full_at = CASE WHEN excluded.full_at <> '' THEN excluded.full_at ELSE cursors.full_at END`,
		conn, cursor, now, fullAt)
	if err != nil {
		return fmt.Errorf("state: save cursor: %w", err)
	}
	return nil
}

// ApplyChanges writes one page of source changes into the snapshot, stamping
// what it sees with generation gen and marking what changed dirty.
//
// Runs of user changes, and runs of member additions to one group, go in
// batches of a few statements each instead of two or three statements per
// row: a first read of 100,000 users and 200,000 memberships spent most of
// its time in per-statement overhead. The result (rows, generations, dirty
// marks) is the same as applying the changes one by one.
func (tx *Tx) ApplyChanges(conn string, gen int64, page []idsync.Change) error {
	// A push write (PushLock) lands at any daemon: see pushwrite.go.
	if err := tx.fencedOrPush(conn); err != nil {
		return err
	}
	for i := 0; i < len(page); {
		c := page[i]
		if n := userRun(page[i:]); n > 0 {
			if err := tx.upsertUsers(conn, gen, page[i:i+n]); err != nil {
				return fmt.Errorf("state: apply changes %d-%d (%s): %w", i, i+n-1, c.Kind, err)
			}
			i += n
			continue
		}
		if n := memberRun(page[i:]); n > 0 {
			if err := tx.addMembers(conn, gen, page[i:i+n]); err != nil {
				return fmt.Errorf("state: apply changes %d-%d (%s): %w", i, i+n-1, c.Kind, err)
			}
			i += n
			continue
		}
		if err := tx.applyChange(conn, gen, c); err != nil {
			return fmt.Errorf("state: apply change %d (%s): %w", i, c.Kind, err)
		}
		i++
	}
	return nil
}

// batchRows bounds a batch: its statements stay well under SQLite's limit of
// 32,766 parameters (12 per user row).
const batchRows = 256

// batchLen rounds a run of n changes down to a power of two, so a
// transaction prepares each batched statement in at most eight sizes
// (parsing a fresh statement per group cost as much as it saved).
func batchLen(n int) int {
	if n < 2 {
		return 0 // one at a time is cheaper
	}
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

// userRun is the length of the valid user changes at the start of page,
// at most batchRows and without a repeated id (a repeat starts the next
// batch, so it sees the first one's effect as it would one by one).
func userRun(page []idsync.Change) int {
	seen := map[string]bool{}
	n := 0
	for _, c := range page[:min(len(page), batchRows)] {
		if c.Kind != idsync.ChangeUser || c.User == nil || c.User.ID == "" || seen[c.User.ID] {
			break
		}
		seen[c.User.ID] = true
		n++
	}
	return batchLen(n)
}

// memberRun is the length of the valid additions to one group at the start
// of page, at most batchRows and without a repeated member.
func memberRun(page []idsync.Change) int {
	seen := map[string]bool{}
	n := 0
	for _, c := range page[:min(len(page), batchRows)] {
		if c.Kind != idsync.ChangeMemberAdded || c.GroupID == "" || c.MemberID == "" || c.GroupID != page[0].GroupID || seen[c.MemberID] {
			break
		}
		seen[c.MemberID] = true
		n++
	}
	return batchLen(n)
}

// placeholders returns n comma-separated groups of "(?, ?, ...)" of width
// params, or n plain "?" when width is 1.
func placeholders(n, width int) string {
	one := "?"
	if width > 1 {
		one = "(" + strings.Repeat("?, ", width-1) + "?)"
	}
	return strings.Repeat(one+", ", n-1) + one
}

// execBatch runs a statement of a batch of n rows; batches of a power-of-two
// size reuse a prepared statement, other sizes (the part of a batch that
// was already there) do not fill the cache.
func (tx *Tx) execBatch(n int, query string, args ...any) error {
	var err error
	if n&(n-1) == 0 {
		_, err = tx.exec(query, args...)
	} else {
		_, err = tx.tx.ExecContext(tx.ctx, query, args...)
	}
	return err
}

// upsertUsers is upsertUser for changes of distinct users.
func (tx *Tx) upsertUsers(conn string, gen int64, page []idsync.Change) error {
	ids := make([]any, 0, len(page)+1)
	ids = append(ids, conn)
	for _, c := range page {
		ids = append(ids, c.User.ID)
	}
	type row struct {
		args    [9]string
		removed string
	}
	current := make(map[string]row, len(page))
	rows, err := tx.tx.QueryContext(tx.ctx, `SELECT id, `+userCols+`, removed FROM source_users WHERE connection = ? AND id IN (`+
		placeholders(len(page), 1)+`)`, ids...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.args[0], &r.args[1], &r.args[2], &r.args[3], &r.args[4], &r.args[5], &r.args[6], &r.args[7], &r.args[8], &r.removed); err != nil {
			rows.Close()
			return err
		}
		current[id] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Unchanged users only move their generation (see upsertUser).
	same := []any{gen, gen, conn}
	var changed []any
	var dirty []string
	for _, c := range page {
		u := c.User
		r, ok := current[u.ID]
		if ok && r.removed == "" && r.args == [9]string{u.UserName, u.Email, u.GivenName, u.FamilyName, u.DisplayName, u.EmployeeID, u.Title, u.Department, string(u.Status)} {
			same = append(same, u.ID)
			continue
		}
		changed = append(append(append(changed, conn, u.ID), userArgs(*u)...), gen)
		dirty = append(dirty, u.ID)
	}
	if n := len(same) - 3; n > 0 {
		if err := tx.execBatch(n, `UPDATE source_users SET `+stampGen+` WHERE connection = ? AND id IN (`+placeholders(n, 1)+`)`, same...); err != nil {
			return err
		}
	}
	if len(dirty) == 0 {
		return nil
	}
	if err := tx.execBatch(len(dirty), `INSERT INTO source_users (connection, id, `+userCols+`, generation) VALUES `+placeholders(len(dirty), 12)+`
		ON CONFLICT (connection, id) DO UPDATE SET user_name = excluded.user_name, email = excluded.email,
		given_name = excluded.given_name, family_name = excluded.family_name, display_name = excluded.display_name,
		employee_id = excluded.employee_id, title = excluded.title, department = excluded.department,
		status = excluded.status, removed = '', `+stampExcluded("source_users"), changed...); err != nil {
		return err
	}
	return tx.markUsers(conn, dirty)
}

// addMembers is addMember for additions of distinct members to one group.
func (tx *Tx) addMembers(conn string, gen int64, page []idsync.Change) error {
	group := page[0].GroupID
	args := make([]any, 0, len(page)+2)
	args = append(args, conn, group)
	for _, c := range page {
		args = append(args, c.MemberID)
	}
	in := placeholders(len(page), 1)
	existing, err := queryAll(tx, scanString, `SELECT member_id FROM source_members WHERE connection = ? AND group_id = ? AND member_id IN (`+in+`)`, args...)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		upd := append([]any{gen, gen, conn, group}, stringsToAny(existing)...)
		if err := tx.execBatch(len(existing), `UPDATE source_members SET `+stampGen+` WHERE connection = ? AND group_id = ? AND member_id IN (`+
			placeholders(len(existing), 1)+`)`, upd...); err != nil {
			return err
		}
	}
	have := make(map[string]bool, len(existing))
	for _, id := range existing {
		have[id] = true
	}
	var ins []any
	var users, groups []string
	for _, c := range page {
		if have[c.MemberID] {
			continue
		}
		kind := c.MemberKind
		if kind == "" {
			kind = idsync.MemberUser
		}
		ins = append(ins, conn, group, c.MemberID, string(kind), gen)
		if kind == idsync.MemberGroup {
			groups = append(groups, c.MemberID)
		} else {
			users = append(users, c.MemberID)
		}
	}
	if n := len(ins) / 5; n > 0 {
		if err := tx.execBatch(n, `INSERT INTO source_members (connection, group_id, member_id, member_kind, generation) VALUES `+placeholders(n, 5), ins...); err != nil {
			return err
		}
	}
	if err := tx.markUsers(conn, users); err != nil {
		return err
	}
	return tx.markGroups(conn, groups)
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (tx *Tx) applyChange(conn string, gen int64, c idsync.Change) error {
	switch c.Kind {
	case idsync.ChangeUser:
		if c.User == nil || c.User.ID == "" {
			return errors.New("user change without a user id")
		}
		return tx.upsertUser(conn, gen, *c.User)
	case idsync.ChangeUserRemoved:
		return tx.removeUser(conn, gen, c.ID, c.Removal)
	case idsync.ChangeGroup:
		if c.Group == nil || c.Group.ID == "" {
			return errors.New("group change without a group id")
		}
		return tx.upsertGroup(conn, gen, *c.Group)
	case idsync.ChangeGroupRemoved:
		return tx.removeGroup(conn, c.ID)
	case idsync.ChangeMemberAdded:
		return tx.addMember(conn, gen, c.GroupID, c.MemberID, c.MemberKind)
	case idsync.ChangeMemberRemoved:
		return tx.removeMembers(conn, `group_id = ? AND member_id = ?`, c.GroupID, c.MemberID)
	case idsync.ChangeAssigned:
		if c.Assignment == nil || c.Assignment.PrincipalID == "" {
			return errors.New("assignment change without a principal")
		}
		return tx.assign(conn, gen, *c.Assignment)
	case idsync.ChangeUnassigned:
		return tx.removeAssignments(conn, `principal_id = ?`, c.ID)
	case idsync.ChangeMembersUnread:
		// Kept through the sweep that ends this full read, and nobody is
		// marked dirty: nothing is known to have changed.
		_, err := tx.exec(`UPDATE source_members SET `+stampGen+` WHERE connection = ? AND group_id = ?`, gen, gen, conn, c.GroupID)
		return err
	case idsync.ChangeSweep:
		switch c.Sweep {
		case idsync.SweepAssignments:
			return tx.removeAssignments(conn, `generation < ?`, gen)
		case idsync.SweepMembers:
			return tx.removeMembers(conn, `group_id = ? AND generation < ?`, c.GroupID, gen)
		}
		return fmt.Errorf("unknown sweep scope %q", c.Sweep)
	}
	return fmt.Errorf("unknown change kind %q", c.Kind)
}

// Generations only move forward. A row's generation is the latest pull that
// saw it, and a sweep drops what the latest full read did not see; were a
// late write of an older pull (a second process on the same database, a
// replayed page) to stamp a row back, the sweep of a newer full read that
// did see the row would remove it. So every statement that sets generation
// keeps the larger one. (CASE, not the two-argument max() SQLite has and
// PostgreSQL has not.)
//
// stampGen is the SET clause for an UPDATE; it takes gen twice.
const stampGen = `generation = CASE WHEN generation > ? THEN generation ELSE ? END`

// stampExcluded is the SET clause for an upsert of table: the row keeps
// its generation when that is newer than the inserted one.
func stampExcluded(table string) string {
	return `generation = CASE WHEN ` + table + `.generation > excluded.generation THEN ` + table + `.generation ELSE excluded.generation END`
}

// userCols are source_users' profile columns, in userArgs order.
const userCols = `user_name, email, given_name, family_name, display_name, employee_id, title, department, status`

func userArgs(u idsync.User) []any {
	return []any{u.UserName, u.Email, u.GivenName, u.FamilyName, u.DisplayName, u.EmployeeID, u.Title, u.Department, string(u.Status)}
}

func (tx *Tx) upsertUser(conn string, gen int64, u idsync.User) error {
	// A re-read of an unchanged user only moves its generation: full reads
	// must not make every user dirty.
	res, err := tx.exec(`UPDATE source_users SET `+stampGen+` WHERE connection = ? AND id = ? AND removed = ''
		AND user_name = ? AND email = ? AND given_name = ? AND family_name = ? AND display_name = ?
		AND employee_id = ? AND title = ? AND department = ? AND status = ?`,
		append([]any{gen, gen, conn, u.ID}, userArgs(u)...)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	if _, err := tx.exec(`INSERT INTO source_users (connection, id, `+userCols+`, removed, generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?)
		ON CONFLICT (connection, id) DO UPDATE SET user_name = excluded.user_name, email = excluded.email,
		given_name = excluded.given_name, family_name = excluded.family_name, display_name = excluded.display_name,
		employee_id = excluded.employee_id, title = excluded.title, department = excluded.department,
		status = excluded.status, removed = '', `+stampExcluded("source_users"),
		append(append([]any{conn, u.ID}, userArgs(u)...), gen)...); err != nil {
		return err
	}
	return tx.markUser(conn, u.ID)
}

// removeUser records that the source reported user id removed (r says
// how). The row counts as seen by this pull even when it already was
// removed that way: a full read reports the recycle bin again and again,
// and the sweep must not take those users for permanently deleted. Only a
// change of state marks the user dirty.
func (tx *Tx) removeUser(conn string, gen int64, id string, r idsync.Removal) error {
	if r != idsync.RemovalSoft && r != idsync.RemovalHard {
		return fmt.Errorf("user %s removed with unknown removal %q", id, r)
	}
	res, err := tx.exec(`UPDATE source_users SET removed = ?, `+stampGen+` WHERE connection = ? AND id = ? AND removed <> ?`,
		string(r), gen, gen, conn, id, string(r))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return tx.markUser(conn, id)
	}
	_, err = tx.exec(`UPDATE source_users SET `+stampGen+` WHERE connection = ? AND id = ?`, gen, gen, conn, id)
	return err
}

func (tx *Tx) upsertGroup(conn string, gen int64, g idsync.Group) error {
	res, err := tx.exec(`UPDATE source_groups SET `+stampGen+` WHERE connection = ? AND id = ? AND name = ? AND description = ?`,
		gen, gen, conn, g.ID, g.Name, g.Description)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	if _, err := tx.exec(`INSERT INTO source_groups (connection, id, name, description, generation) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (connection, id) DO UPDATE SET name = excluded.name, description = excluded.description, `+stampExcluded("source_groups"),
		conn, g.ID, g.Name, g.Description, gen); err != nil {
		return err
	}
	// A renamed group may now match (or stop matching) a scope or role rule by name.
	return tx.markGroup(conn, g.ID)
}

func (tx *Tx) removeGroup(conn, id string) error {
	// Whoever was below the group may lose scope or a role with it.
	if err := tx.removeMembers(conn, `group_id = ?`, id); err != nil {
		return err
	}
	if err := tx.removeAssignments(conn, `principal_id = ?`, id); err != nil {
		return err
	}
	if _, err := tx.exec(`DELETE FROM source_members WHERE connection = ? AND member_id = ?`, conn, id); err != nil {
		return err
	}
	if _, err := tx.exec(`DELETE FROM source_groups WHERE connection = ? AND id = ?`, conn, id); err != nil {
		return err
	}
	return tx.markGroup(conn, id)
}

func (tx *Tx) addMember(conn string, gen int64, group, member string, kind idsync.MemberKind) error {
	if group == "" || member == "" {
		return errors.New("member change without group or member id")
	}
	if kind == "" {
		kind = idsync.MemberUser
	}
	res, err := tx.exec(`UPDATE source_members SET `+stampGen+` WHERE connection = ? AND group_id = ? AND member_id = ?`,
		gen, gen, conn, group, member)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	if _, err := tx.exec(`INSERT INTO source_members (connection, group_id, member_id, member_kind, generation) VALUES (?, ?, ?, ?, ?)`,
		conn, group, member, string(kind), gen); err != nil {
		return err
	}
	return tx.markMember(conn, member, string(kind))
}

// removeMembers deletes the member rows matching where (over group_id,
// member_id, generation) and marks each former member dirty.
func (tx *Tx) removeMembers(conn, where string, args ...any) error {
	rows, err := queryAll(tx, scanPair, `SELECT member_id, member_kind FROM source_members WHERE connection = ? AND `+where,
		append([]any{conn}, args...)...)
	if err != nil || len(rows) == 0 {
		return err
	}
	if _, err := tx.tx.ExecContext(tx.ctx, `DELETE FROM source_members WHERE connection = ? AND `+where, append([]any{conn}, args...)...); err != nil {
		return err
	}
	for _, r := range rows {
		if err := tx.markMember(conn, r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) assign(conn string, gen int64, a idsync.Assignment) error {
	if a.PrincipalKind == "" {
		a.PrincipalKind = idsync.MemberUser
	}
	res, err := tx.exec(`UPDATE source_assignments SET `+stampGen+` WHERE connection = ? AND principal_id = ? AND role = ?`,
		gen, gen, conn, a.PrincipalID, a.Role)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	if _, err := tx.exec(`INSERT INTO source_assignments (connection, principal_id, role, principal_kind, generation) VALUES (?, ?, ?, ?, ?)`,
		conn, a.PrincipalID, a.Role, string(a.PrincipalKind), gen); err != nil {
		return err
	}
	return tx.markMember(conn, a.PrincipalID, string(a.PrincipalKind))
}

func (tx *Tx) removeAssignments(conn, where string, args ...any) error {
	rows, err := queryAll(tx, scanPair, `SELECT principal_id, principal_kind FROM source_assignments WHERE connection = ? AND `+where,
		append([]any{conn}, args...)...)
	if err != nil || len(rows) == 0 {
		return err
	}
	if _, err := tx.tx.ExecContext(tx.ctx, `DELETE FROM source_assignments WHERE connection = ? AND `+where, append([]any{conn}, args...)...); err != nil {
		return err
	}
	for _, r := range rows {
		if err := tx.markMember(conn, r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

// UnseenUsers are the users a completed full read of generation gen did not
// mention and the snapshot does not hold as deleted for good: the ones
// Sweep would mark permanently removed. The engine has a source that can
// look users up confirm each of them first (sources.Confirmer).
func (tx *Tx) UnseenUsers(conn string, gen int64) ([]string, error) {
	ids, err := queryAll(tx, scanString, `SELECT id FROM source_users WHERE connection = ? AND generation < ? AND removed <> ? ORDER BY id`,
		conn, gen, string(idsync.RemovalHard))
	if err != nil {
		return nil, fmt.Errorf("state: users the full read did not mention: %w", err)
	}
	return ids, nil
}

// Sweep ends a completed full read of generation gen: users it did not
// mention are marked permanently removed, groups, memberships and
// assignments it did not see are dropped. Everything affected is marked
// dirty.
//
// A full read reports every user the IdP still holds, live or restorable
// (sources.Source: Entra's recycle bin comes as soft removals), so a user it
// did not mention at all is proof of a permanent delete, whether the row was
// live or soft-deleted (a recycle bin empties itself after 30 days). Where a
// user can leave a listing and come back while it runs, the source confirms
// the UnseenUsers by id before the sweep, which then finds none of them.
func (tx *Tx) Sweep(conn string, gen int64) error {
	if err := tx.fenced(conn); err != nil {
		return err
	}
	ids, err := tx.UnseenUsers(conn, gen)
	if err != nil {
		return fmt.Errorf("state: sweep users: %w", err)
	}
	for _, id := range ids {
		if _, err := tx.exec(`UPDATE source_users SET removed = ? WHERE connection = ? AND id = ?`, string(idsync.RemovalHard), conn, id); err != nil {
			return fmt.Errorf("state: sweep users: %w", err)
		}
		if err := tx.markUser(conn, id); err != nil {
			return err
		}
	}
	groups, err := queryAll(tx, scanString, `SELECT id FROM source_groups WHERE connection = ? AND generation < ?`, conn, gen)
	if err != nil {
		return fmt.Errorf("state: sweep groups: %w", err)
	}
	for _, id := range groups {
		if err := tx.removeGroup(conn, id); err != nil {
			return fmt.Errorf("state: sweep groups: %w", err)
		}
	}
	if err := tx.removeMembers(conn, `generation < ?`, gen); err != nil {
		return fmt.Errorf("state: sweep members: %w", err)
	}
	if err := tx.removeAssignments(conn, `generation < ?`, gen); err != nil {
		return fmt.Errorf("state: sweep assignments: %w", err)
	}
	return nil
}

func scanString(r *sql.Rows) (string, error) {
	var s string
	return s, r.Scan(&s)
}

func scanPair(r *sql.Rows) ([2]string, error) {
	var v [2]string
	return v, r.Scan(&v[0], &v[1])
}
