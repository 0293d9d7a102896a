package entratest

// hook is a function to run once before the emulator serves a request.
type hook struct {
	route string
	f     func()
}

// BeforeNext runs f once, just before the emulator serves the next Graph
// request to route (a route name as Calls has them, e.g. "users/{id}"),
// faulted requests included. f runs without the emulator's lock, so it may
// change the directory: tests use it to make a change land between two
// requests of one pull (a user deleted between a delta page and its
// re-read) without timing anything.
func (s *Server) BeforeNext(route string, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, &hook{route: route, f: f})
}

func (s *Server) runHooks(route string) {
	s.mu.Lock()
	var due []func()
	kept := s.hooks[:0]
	for _, h := range s.hooks {
		if h.route == route {
			due = append(due, h.f)
		} else {
			kept = append(kept, h)
		}
	}
	s.hooks = kept
	s.mu.Unlock()
	for _, f := range due {
		f()
	}
}
