package oktatest

import (
	"fmt"
	"maps"
	"time"
)

// The mutation methods change the org the way the Okta admin console would:
// timestamps move, the search index follows after the lag, and the System
// Log records what happened (including app membership changes that a group
// change causes). They panic on unknown ids: they are for tests.

// CreateUser adds u (ID generated when empty, Status default ACTIVE).
func (s *Server) CreateUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if u.ID == "" {
		u.ID = newID("00u")
	}
	if u.Status == "" {
		u.Status = "ACTIVE"
	}
	if u.Email == "" {
		u.Email = u.Login
	}
	u.Created, u.LastUpdated, u.StatusChanged = now, now, now
	if u.Status != "STAGED" {
		u.Activated = now
	}
	p := &u
	s.st.users[u.ID] = p
	s.st.ids = append(s.st.ids, u.ID)
	s.st.idsDirt = true
	s.st.indexUser(now, s.lag, u.ID, p)
	s.st.log(now, "user.lifecycle.create", "Create okta user", userTarget(p))
	if u.Status == "ACTIVE" {
		s.st.log(now, "user.lifecycle.activate", "Activate Okta user", userTarget(p))
	}
	return u
}

// User returns the user with id.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.st.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

func (s *Server) mustUser(id string) *User {
	u := s.st.users[id]
	if u == nil {
		panic(fmt.Sprintf("oktatest: no user %q", id))
	}
	return u
}

func (s *Server) mustGroup(id string) *Group {
	g := s.st.groups[id]
	if g == nil {
		panic(fmt.Sprintf("oktatest: no group %q", id))
	}
	return g
}

func (s *Server) mustApp(id string) *appState {
	a := s.st.apps[id]
	if a == nil {
		panic(fmt.Sprintf("oktatest: no app %q", id))
	}
	return a
}

// UpdateUser changes a user's profile through f (ID, Status and timestamps
// are kept).
func (s *Server) UpdateUser(id string, f func(*User)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	u := s.mustUser(id)
	c := *u
	f(&c)
	c.ID, c.Status, c.Created, c.Activated, c.StatusChanged = u.ID, u.Status, u.Created, u.Activated, u.StatusChanged
	c.LastUpdated = now
	// copy on write: Generate shares user records with the search index
	s.st.users[id] = &c
	s.st.indexUser(now, s.lag, id, &c)
	s.st.log(now, "user.account.update_profile", "Update user profile for Okta", userTarget(&c))
}

// SetStatus moves a user to status, logging eventType (e.g. LOCKED_OUT with
// "user.account.lock"). Suspend, Unsuspend, Deactivate and Activate are the
// usual transitions.
func (s *Server) SetStatus(id, status, eventType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setStatus(id, status, eventType)
}

func (s *Server) setStatus(id, status, eventType string) {
	now := s.now()
	c := *s.mustUser(id)
	u := &c
	s.st.users[id] = u
	u.Status, u.StatusChanged, u.LastUpdated = status, now, now
	if status == "ACTIVE" && u.Activated.IsZero() {
		u.Activated = now
	}
	s.st.indexUser(now, s.lag, id, u)
	s.st.log(now, eventType, eventType, userTarget(u))
}

// Suspend: ACTIVE → SUSPENDED.
func (s *Server) Suspend(id string) { s.SetStatus(id, "SUSPENDED", "user.lifecycle.suspend") }

// Unsuspend: SUSPENDED → ACTIVE.
func (s *Server) Unsuspend(id string) { s.SetStatus(id, "ACTIVE", "user.lifecycle.unsuspend") }

// Deactivate: → DEPROVISIONED (kept in groups and apps, as Okta does).
func (s *Server) Deactivate(id string) {
	s.SetStatus(id, "DEPROVISIONED", "user.lifecycle.deactivate")
}

// Activate: STAGED or DEPROVISIONED → ACTIVE.
func (s *Server) Activate(id string) { s.SetStatus(id, "ACTIVE", "user.lifecycle.activate") }

// DeleteUser deletes a user for good, deactivating it first when needed
// (Okta's two-step delete). It leaves its groups and apps.
func (s *Server) DeleteUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.mustUser(id)
	if u.Status != "DEPROVISIONED" {
		s.setStatus(id, "DEPROVISIONED", "user.lifecycle.deactivate")
	}
	s.appDiff(func() {
		now := s.now()
		for gid, m := range s.st.members {
			if _, ok := m[id]; ok {
				delete(m, id)
				delete(s.st.memSorted, gid)
				s.st.groups[gid].LastMembershipUpdated = now
			}
		}
		for _, a := range s.st.apps {
			delete(a.users, id)
		}
	})
	now := s.now()
	s.st.log(now, "user.lifecycle.delete.initiated", "Delete Okta user", userTarget(u))
	s.st.log(now, "user.lifecycle.delete.completed", "Delete Okta user completed", userTarget(u))
	delete(s.st.users, id)
	s.st.indexUser(now, s.lag, id, nil)
}

// CreateGroup adds an OKTA_GROUP.
func (s *Server) CreateGroup(name, description string) Group {
	return s.createGroup("OKTA_GROUP", name, description)
}

// CreateEveryone adds the BUILT_IN group every Okta org has; AddMember
// fills it (the emulator does not add new users to it by itself).
func (s *Server) CreateEveryone() Group {
	return s.createGroup("BUILT_IN", "Everyone", "All users in your organization")
}

func (s *Server) createGroup(typ, name, description string) Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	g := &Group{ID: newID("00g"), Type: typ, Name: name, Description: description, Created: now, LastUpdated: now, LastMembershipUpdated: now}
	s.st.groups[g.ID] = g
	s.st.groupIDs = append(s.st.groupIDs, g.ID)
	s.st.members[g.ID] = map[string]struct{}{}
	s.st.log(now, "group.lifecycle.create", "Create Okta group", groupTarget(g))
	return *g
}

// RenameGroup changes a group's name and description.
func (s *Server) RenameGroup(id, name, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	g := s.mustGroup(id)
	g.Name, g.Description, g.LastUpdated = name, description, now
	s.st.log(now, "group.profile.update", "Update group profile", groupTarget(g))
}

// DeleteGroup deletes a group and its app assignments.
func (s *Server) DeleteGroup(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGroup(id)
	s.appDiff(func() {
		now := s.now()
		for _, a := range s.st.apps {
			if a.groups[id] != nil {
				delete(a.groups, id)
				s.st.log(now, "group.application_assignment.remove", "Remove app assignment from group", appTarget(a), groupTarget(g))
			}
		}
		delete(s.st.members, id)
		delete(s.st.memSorted, id)
	})
	s.st.log(s.now(), "group.lifecycle.delete", "Delete Okta group", groupTarget(g))
	delete(s.st.groups, id)
}

// AddMember adds user uid to group gid.
func (s *Server) AddMember(gid, uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, u := s.mustGroup(gid), s.mustUser(uid)
	s.appDiff(func() {
		now := s.now()
		s.st.members[gid][uid] = struct{}{}
		delete(s.st.memSorted, gid)
		g.LastMembershipUpdated = now
		s.st.log(now, "group.user_membership.add", "Add user to group membership", userTarget(u), groupTarget(g))
	})
}

// RemoveMember removes user uid from group gid.
func (s *Server) RemoveMember(gid, uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, u := s.mustGroup(gid), s.mustUser(uid)
	s.appDiff(func() {
		now := s.now()
		delete(s.st.members[gid], uid)
		delete(s.st.memSorted, gid)
		g.LastMembershipUpdated = now
		s.st.log(now, "group.user_membership.remove", "Remove user from group membership", userTarget(u), groupTarget(g))
	})
}

// CreateApp adds an app instance.
func (s *Server) CreateApp(label string) App {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &appState{App: App{ID: newID("0oa"), Label: label}, users: map[string]*assignment{}, groups: map[string]*assignment{}}
	s.st.apps[a.ID] = a
	return a.App
}

// AssignUser assigns user uid to the app directly with role (in the app user
// profile's RoleAttribute; "" = none), or changes the role of an existing
// assignment.
func (s *Server) AssignUser(appID, uid, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustApp(appID)
	s.mustUser(uid)
	s.appDiff(func() {
		now := s.now()
		if as := a.users[uid]; as != nil {
			as.role, as.updated = role, now
			return
		}
		a.users[uid] = &assignment{role: role, created: now, updated: now}
	})
}

// UnassignUser removes the direct assignment of uid (a group assignment may
// still cover it).
func (s *Server) UnassignUser(appID, uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustApp(appID)
	s.appDiff(func() { delete(a.users, uid) })
}

// AssignGroup assigns group gid to the app with role, or changes its role.
func (s *Server) AssignGroup(appID, gid, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, g := s.mustApp(appID), s.mustGroup(gid)
	s.appDiff(func() {
		now := s.now()
		if as := a.groups[gid]; as != nil {
			as.role, as.updated = role, now
			s.st.log(now, "group.application_assignment.update", "Update app assignment for group", appTarget(a), groupTarget(g))
			return
		}
		a.groups[gid] = &assignment{role: role, created: now, updated: now, priority: a.nextPr}
		a.nextPr++
		s.st.log(now, "group.application_assignment.add", "Add app assignment to group", appTarget(a), groupTarget(g))
	})
}

// UnassignGroup removes the group's assignment.
func (s *Server) UnassignGroup(appID, gid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, g := s.mustApp(appID), s.mustGroup(gid)
	s.appDiff(func() {
		delete(a.groups, gid)
		s.st.log(s.now(), "group.application_assignment.remove", "Remove app assignment from group", appTarget(a), groupTarget(g))
	})
}

// appDiff runs f and logs the app membership changes it caused, the way Okta
// logs application.user_membership.* for each app user a direct or group
// assignment creates, changes or removes.
func (s *Server) appDiff(f func()) {
	before := map[string]map[string]effective{}
	for id, a := range s.st.apps {
		before[id] = maps.Clone(s.st.effective(a))
	}
	f()
	s.st.invalidateApps()
	now := s.now()
	for id, a := range s.st.apps {
		after := s.st.effective(a)
		for _, uid := range a.sorted {
			e := after[uid]
			old, had := before[id][uid]
			switch {
			case !had:
				s.logAppUser(now, "application.user_membership.add", "Add user to application membership", a, uid)
			case old.role != e.role || old.scope != e.scope:
				s.logAppUser(now, "application.user_membership.update", "Update user application membership", a, uid)
			default:
				continue
			}
			if old, ok := a.users[uid]; ok && e.scope == "USER" {
				old.updated = now
			}
		}
		for uid := range before[id] {
			if _, ok := after[uid]; !ok {
				s.logAppUser(now, "application.user_membership.remove", "Remove user from application membership", a, uid)
			}
		}
	}
}

func (s *Server) logAppUser(now time.Time, typ, msg string, a *appState, uid string) {
	ut := target{ID: uid, Type: "User"}
	if u := s.st.users[uid]; u != nil {
		ut = userTarget(u)
	}
	appUser := target{ID: "0ua" + uid[min(3, len(uid)):], Type: "AppUser", AlternateID: ut.AlternateID, DisplayName: ut.DisplayName}
	s.st.log(now, typ, msg, appUser, appTarget(a), ut)
}
