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
