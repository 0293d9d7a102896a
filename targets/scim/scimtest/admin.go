package scimtest

// DeleteUser removes the user with id, as a workspace admin deleting an
// account by hand would (drift tests); false when there is no such user.
func (s *Server) DeleteUser(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store.users[id] == nil {
		return false
	}
	s.store.deleteUser(id)
	return true
}

// EditGroup changes the group with id as an admin would by hand (drift
// tests): f edits its stored resource (members as [{"value": userID}]);
// false when there is no such group. f runs under the server's lock: it
// must not call the server.
func (s *Server) EditGroup(id string, f func(raw map[string]any)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.store.groups[id]
	if r == nil {
		return false
	}
	data := deepCopy(r.data).(map[string]any)
	f(data)
	s.store.putGroup(id, data)
	return true
}

// DeleteGroup removes the group with id, as an admin deleting a team by
// hand would; false when there is no such group.
func (s *Server) DeleteGroup(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store.groups[id] == nil {
		return false
	}
	s.store.deleteGroup(id)
	return true
}
