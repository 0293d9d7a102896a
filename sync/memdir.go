package sync

import (
	"errors"
	"fmt"
	"slices"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
)

// memDirectory holds a first full read in memory, for a dry run of a
// connection whose snapshot is empty: writing 100,000 users and their
// memberships into SQLite only to roll them back costs several times the
// read itself. It applies changes with the snapshot's semantics for that
// case: nothing predates the read, so a sweep drops nothing.
type memDirectory struct {
	users    []*idsync.User             // in the order first seen (pointers: growing a slice of large structs is costly)
	index    map[string]int             // user id → position in users
	groups   map[string]string          // id → name
	descs    map[string]string          // id → description
	byUser   map[string][]string        // user → groups it is directly in
	nested   map[string]map[string]bool // group → groups directly in it
	assigned map[string]map[string]bool // principal → roles
}

var _ directory = (*memDirectory)(nil)

func newMemDirectory() *memDirectory {
	return &memDirectory{index: map[string]int{}, groups: map[string]string{}, descs: map[string]string{}, byUser: map[string][]string{},
		nested: map[string]map[string]bool{}, assigned: map[string]map[string]bool{}}
}

// apply records one page, like state.Tx.ApplyChanges into an empty snapshot.
func (m *memDirectory) apply(page []idsync.Change) error {
	for i, c := range page {
		if err := m.applyOne(c); err != nil {
			return fmt.Errorf("apply change %d (%s): %w", i, c.Kind, err)
		}
	}
	return nil
}

func (m *memDirectory) applyOne(c idsync.Change) error {
	switch c.Kind {
	case idsync.ChangeUser:
		if c.User == nil || c.User.ID == "" {
			return errors.New("user change without a user id")
		}
		// The page's own user, not a copy: a first sync keeps its pages for
		// the snapshot writer, and a second copy of 100,000 users cost ~20 MB
		// at its peak. The snapshot ignores Removed on a user change (it
		// writes the user as present), so setting it here changes nothing
		// the writer records; a later change replaces the pointer rather
		// than writing through it.
		u := c.User
		u.Removed = idsync.RemovalNone
		if i, ok := m.index[u.ID]; ok {
			m.users[i] = u
		} else {
			m.index[u.ID] = len(m.users)
			m.users = append(m.users, u)
		}
	case idsync.ChangeUserRemoved:
		if i, ok := m.index[c.ID]; ok {
			m.users[i].Removed = c.Removal
		}
	case idsync.ChangeGroup:
		if c.Group == nil || c.Group.ID == "" {
			return errors.New("group change without a group id")
		}
		m.groups[c.Group.ID] = c.Group.Name
		m.descs[c.Group.ID] = c.Group.Description
	case idsync.ChangeGroupRemoved:
		delete(m.groups, c.ID)
		delete(m.descs, c.ID)
		delete(m.nested, c.ID)
		delete(m.assigned, c.ID)
		for _, children := range m.nested {
			delete(children, c.ID)
		}
		for u := range m.byUser { // rare within a read; the snapshot does the same per member
			m.unlink(c.ID, u)
		}
	case idsync.ChangeMemberAdded:
		if c.GroupID == "" || c.MemberID == "" {
			return errors.New("member change without group or member id")
		}
		// Like the snapshot, a membership keeps the kind it was first reported with.
		if m.nested[c.GroupID][c.MemberID] || slices.Contains(m.byUser[c.MemberID], c.GroupID) {
			return nil
		}
		if c.MemberKind == idsync.MemberGroup {
			children := m.nested[c.GroupID]
			if children == nil {
				children = map[string]bool{}
				m.nested[c.GroupID] = children
			}
			children[c.MemberID] = true
		} else {
			m.byUser[c.MemberID] = append(m.byUser[c.MemberID], c.GroupID)
		}
	case idsync.ChangeMemberRemoved:
		delete(m.nested[c.GroupID], c.MemberID)
		m.unlink(c.GroupID, c.MemberID)
	case idsync.ChangeAssigned:
		if c.Assignment == nil || c.Assignment.PrincipalID == "" {
			return errors.New("assignment change without a principal")
		}
		rs := m.assigned[c.Assignment.PrincipalID]
		if rs == nil {
			rs = map[string]bool{}
			m.assigned[c.Assignment.PrincipalID] = rs
		}
		rs[c.Assignment.Role] = true
	case idsync.ChangeUnassigned:
		delete(m.assigned, c.ID)
	case idsync.ChangeMembersUnread:
		// a first read holds nothing to keep
	case idsync.ChangeSweep:
		if c.Sweep != idsync.SweepAssignments && c.Sweep != idsync.SweepMembers {
			return fmt.Errorf("unknown sweep scope %q", c.Sweep)
		}
	default:
		return fmt.Errorf("unknown change kind %q", c.Kind)
	}
	return nil
}

// unlink drops group from user's direct groups.
func (m *memDirectory) unlink(group, user string) {
	if gs, ok := m.byUser[user]; ok && slices.Contains(gs, group) {
		m.byUser[user] = slices.DeleteFunc(gs, func(g string) bool { return g == group })
	}
}

func (m *memDirectory) Groups(string) ([]state.GroupRow, error) {
	out := make([]state.GroupRow, 0, len(m.groups))
	for id, name := range m.groups {
		out = append(out, state.GroupRow{ID: id, Name: name, Description: m.descs[id]})
	}
	return out, nil
}

func (m *memDirectory) GroupEdges(string) ([][2]string, error) {
	var out [][2]string
	for g, children := range m.nested {
		for id := range children {
			out = append(out, [2]string{g, id})
		}
	}
	return out, nil
}

func (m *memDirectory) Users(_ string, ids []string) ([]*idsync.User, error) {
	var out []*idsync.User
	for _, id := range ids {
		if i, ok := m.index[id]; ok {
			out = append(out, m.users[i])
		}
	}
	return out, nil
}

// AllUsers returns the directory's own slice: evaluation only reads it.
func (m *memDirectory) AllUsers(string) ([]*idsync.User, error) { return m.users, nil }

func (m *memDirectory) UserGroups(_ string, ids []string) (map[string][]string, error) {
	if ids == nil {
		return m.byUser, nil
	}
	out := map[string][]string{}
	for _, id := range ids {
		if gs := m.byUser[id]; len(gs) > 0 {
			out[id] = gs
		}
	}
	return out, nil
}

func (m *memDirectory) Assignments(_ string, principals []string) (map[string][]string, error) {
	out := map[string][]string{}
	for p, rs := range m.assigned {
		if principals != nil && !slices.Contains(principals, p) {
			continue
		}
		for r := range rs {
			out[p] = append(out[p], r)
		}
	}
	return out, nil
}
