package entratest

import (
	"fmt"
	"sort"
	"time"
)

// User is a directory user as the tests and the demo see it. Every field is
// what Graph calls it; ID is assigned by AddUser when empty.
type User struct {
	ID                string
	UserPrincipalName string
	Mail              string
	GivenName         string
	Surname           string
	DisplayName       string
	AccountEnabled    bool
	EmployeeID        string
	JobTitle          string
	Department        string
}

type objState uint8

const (
	stateLive objState = iota
	stateSoftDeleted
	stateHardDeleted
)

// Every mutation stamps the objects it touches with the next sequence
// number; a delta token is a sequence watermark, so "what changed since the
// token" is "stamped after it".
type userRec struct {
	User
	changed uint64
	state   objState
	whole   uint64            // created or restored: reported whole to tokens older than this
	stamps  map[string]uint64 // Graph property name → last change, for PartialUpdates
	deleted time.Time         // when it went to the recycle bin (deletedDateTime)
}

type groupRec struct {
	id, name, description string
	changed               uint64 // properties, creation or deletion
	state                 objState
	links                 []*link // in the order members were first added
	byMember              map[string]*link
}

type link struct {
	member  string
	isGroup bool
	changed uint64
	removed bool
}

const (
	userIDPrefix  = "75736572" // "user"
	groupIDPrefix = "67727570" // "grup"
	appIDPrefix   = "61707073" // "apps"
	spIDPrefix    = "7370726e" // "sprn"
	roleIDPrefix  = "726f6c65" // "role"
	asgIDPrefix   = "61736967" // "asig"
)

// guid makes the deterministic, well-formed object ids the emulator hands
// out (Graph ids are GUIDs and the SDK parses some of them as such).
func guid(prefix string, n uint64) string {
	return fmt.Sprintf("%s-0000-4000-8000-%012x", prefix, n)
}

func (s *Server) bump() uint64 { s.seq++; return s.seq }

// AddUser hires u and returns its id (u.ID, or a new one when empty).
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(u)
}

func (s *Server) addUserLocked(u User) string {
	if u.ID == "" {
		s.nextID++
		u.ID = guid(userIDPrefix, s.nextID)
	}
	if old, ok := s.users[u.ID]; ok {
		old.User, old.state, old.changed = u, stateLive, s.bump()
		old.whole = old.changed
		s.changedLocked("users", u.ID, "updated")
		return u.ID
	}
	r := &userRec{User: u, changed: s.bump()}
	r.whole = r.changed
	s.users[u.ID] = r
	s.userOrder = append(s.userOrder, r)
	s.changedLocked("users", u.ID, "updated")
	return u.ID
}

// User returns the user with id as the directory holds it now.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[id]
	if !ok || r.state != stateLive {
		return User{}, false
	}
	return r.User, true
}

// UserID finds a live user by userPrincipalName.
func (s *Server) UserID(upn string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.userOrder {
		if r.state == stateLive && r.UserPrincipalName == upn {
			return r.ID, true
		}
	}
	return "", false
}

// UpdateUser applies f to the live user id (a title change, a rename...).
func (s *Server) UpdateUser(id string, f func(*User)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.liveUser(id)
	if err != nil {
		return err
	}
	before := r.User
	f(&r.User)
	r.ID = id
	r.changed = s.bump()
	if r.stamps == nil {
		r.stamps = map[string]uint64{}
	}
	for name, changed := range map[string]bool{
		"userPrincipalName": before.UserPrincipalName != r.UserPrincipalName,
		"mail":              before.Mail != r.Mail,
		"givenName":         before.GivenName != r.GivenName,
		"surname":           before.Surname != r.Surname,
		"displayName":       before.DisplayName != r.DisplayName,
		"accountEnabled":    before.AccountEnabled != r.AccountEnabled,
		"employeeId":        before.EmployeeID != r.EmployeeID,
		"jobTitle":          before.JobTitle != r.JobTitle,
		"department":        before.Department != r.Department,
	} {
		if changed {
			r.stamps[name] = r.changed
		}
	}
	s.changedLocked("users", id, "updated")
	return nil
}

// DisableUser sets accountEnabled=false; EnableUser sets it back.
func (s *Server) DisableUser(id string) error {
	return s.UpdateUser(id, func(u *User) { u.AccountEnabled = false })
}

func (s *Server) EnableUser(id string) error {
	return s.UpdateUser(id, func(u *User) { u.AccountEnabled = true })
}

// SoftDeleteUser moves the user to the recycle bin: delta reports
// @removed {"reason": "changed"} and /directory/deletedItems lists it;
// RestoreUser brings it back (reported as the full object again, like a
// create).
func (s *Server) SoftDeleteUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.liveUser(id)
	if err != nil {
		return err
	}
	r.state, r.changed, r.deleted = stateSoftDeleted, s.bump(), time.Now()
	s.changedLocked("users", id, "deleted")
	return nil
}

func (s *Server) RestoreUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[id]
	if !ok || r.state != stateSoftDeleted {
		return fmt.Errorf("entratest: user %s is not in the recycle bin", id)
	}
	r.state, r.changed = stateLive, s.bump()
	r.whole = r.changed
	s.changedLocked("users", id, "updated")
	return nil
}

// HardDeleteUser deletes a live or soft-deleted user permanently (for one
// in the recycle bin: what Graph's purge after 30 days does): delta reports
// @removed {"reason": "deleted"}, the user is in no listing, the recycle
// bin included, and its group memberships go with it.
func (s *Server) HardDeleteUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[id]
	if !ok || r.state == stateHardDeleted {
		return fmt.Errorf("entratest: no user %s", id)
	}
	r.state, r.changed = stateHardDeleted, s.bump()
	s.dropAssignments(id)
	for _, g := range s.groups {
		if l, ok := g.byMember[id]; ok && !l.removed {
			l.removed, l.changed = true, s.bump()
			s.changedLocked("groups", g.id, "updated")
		}
	}
	s.changedLocked("users", id, "deleted")
	return nil
}

func (s *Server) liveUser(id string) (*userRec, error) {
	r, ok := s.users[id]
	if !ok || r.state != stateLive {
		return nil, fmt.Errorf("entratest: no live user %s", id)
	}
	return r, nil
}

// AddGroup creates a security group and returns its id.
func (s *Server) AddGroup(name, description string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addGroupLocked(name, description)
}

func (s *Server) addGroupLocked(name, description string) string {
	s.nextID++
	id := guid(groupIDPrefix, s.nextID)
	g := &groupRec{id: id, name: name, description: description, changed: s.bump(), byMember: map[string]*link{}}
	s.groups[id] = g
	s.groupOrder = append(s.groupOrder, g)
	s.changedLocked("groups", id, "updated")
	return id
}

// GroupID finds a live group by display name.
func (s *Server) GroupID(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groupOrder {
		if g.state == stateLive && g.name == name {
			return g.id, true
		}
	}
	return "", false
}

// RenameGroup changes a group's display name.
func (s *Server) RenameGroup(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.liveGroup(id)
	if err != nil {
		return err
	}
	g.name, g.changed = name, s.bump()
	s.changedLocked("groups", id, "updated")
	return nil
}

// DeleteGroup deletes a group permanently (security groups skip the
// recycle bin); it also leaves every group it was a member of.
func (s *Server) DeleteGroup(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.liveGroup(id)
	if err != nil {
		return err
	}
	g.state, g.changed = stateHardDeleted, s.bump()
	s.dropAssignments(id)
	for _, p := range s.groups {
		if l, ok := p.byMember[id]; ok && !l.removed {
			l.removed, l.changed = true, s.bump()
			s.changedLocked("groups", p.id, "updated")
		}
	}
	s.changedLocked("groups", id, "deleted")
	return nil
}

func (s *Server) liveGroup(id string) (*groupRec, error) {
	g, ok := s.groups[id]
	if !ok || g.state != stateLive {
		return nil, fmt.Errorf("entratest: no live group %s", id)
	}
	return g, nil
}

// AddMember makes member (a user or group id) a direct member of group.
func (s *Server) AddMember(group, member string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addMemberLocked(group, member)
}

func (s *Server) addMemberLocked(group, member string) error {
	g, err := s.liveGroup(group)
	if err != nil {
		return err
	}
	isGroup := false
	if _, ok := s.groups[member]; ok {
		isGroup = true
	} else if _, ok := s.users[member]; !ok {
		return fmt.Errorf("entratest: no member %s", member)
	}
	if l, ok := g.byMember[member]; ok {
		if l.removed {
			l.removed, l.changed = false, s.bump()
			s.changedLocked("groups", group, "updated")
		}
		return nil
	}
	l := &link{member: member, isGroup: isGroup, changed: s.bump()}
	g.byMember[member] = l
	g.links = append(g.links, l)
	s.changedLocked("groups", group, "updated")
	return nil
}

// RemoveMember removes member from group's direct members.
func (s *Server) RemoveMember(group, member string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.liveGroup(group)
	if err != nil {
		return err
	}
	l, ok := g.byMember[member]
	if !ok || l.removed {
		return fmt.Errorf("entratest: %s is not a member of %s", member, group)
	}
	l.removed, l.changed = true, s.bump()
	s.changedLocked("groups", group, "updated")
	return nil
}

// Members lists the direct members of group, sorted.
func (s *Server) Members(group string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	if g, ok := s.groups[group]; ok {
		for _, l := range g.links {
			if !l.removed {
				out = append(out, l.member)
			}
		}
	}
	sort.Strings(out)
	return out
}
