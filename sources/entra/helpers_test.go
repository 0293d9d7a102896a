package entra_test

import (
	"context"
	"sort"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources/entra"
	"github.com/idsync/idsync/sources/entra/entratest"
)

func newServer(t testing.TB) *entratest.Server {
	t.Helper()
	srv := entratest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

func config(srv *entratest.Server) entra.Config {
	return entra.Config{
		TenantID:     srv.TenantID,
		ClientID:     srv.ClientID,
		ClientSecret: srv.ClientSecret,
		GraphURL:     srv.GraphURL,
		AuthorityURL: srv.AuthorityURL,
		CAFile:       srv.CAFile,
	}
}

func open(t testing.TB, cfg entra.Config) *entra.Source {
	t.Helper()
	src, err := entra.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return src
}

// result is one Pull's outcome.
type result struct {
	pages [][]idsync.Change
	next  string
	full  bool
	err   error
}

func (r result) changes() []idsync.Change {
	var all []idsync.Change
	for _, p := range r.pages {
		all = append(all, p...)
	}
	return all
}

func pull(src *entra.Source, cursor string) result {
	var r result
	r.next, r.full, r.err = src.Pull(context.Background(), cursor, func(p []idsync.Change) error {
		r.pages = append(r.pages, p)
		return nil
	})
	return r
}

func mustPull(t *testing.T, src *entra.Source, cursor string) result {
	t.Helper()
	r := pull(src, cursor)
	if r.err != nil {
		t.Fatalf("Pull: %v", r.err)
	}
	if r.next == "" {
		t.Fatal("Pull returned no cursor")
	}
	return r
}

// snapshot applies changes the way the engine's snapshot does (later
// change wins, replays harmless), so tests can compare a source's view with
// the emulator's directory.
type snapshot struct {
	users       map[string]idsync.User
	groups      map[string]idsync.Group
	members     map[string]map[string]idsync.MemberKind
	assignments map[idsync.Assignment]bool
	seen        map[idsync.Assignment]bool
}

func newSnapshot() *snapshot {
	return &snapshot{users: map[string]idsync.User{}, groups: map[string]idsync.Group{},
		members: map[string]map[string]idsync.MemberKind{}, assignments: map[idsync.Assignment]bool{},
		seen: map[idsync.Assignment]bool{}}
}

func (s *snapshot) apply(t *testing.T, changes []idsync.Change) {
	t.Helper()
	for _, c := range changes {
		switch c.Kind {
		case idsync.ChangeUser:
			s.users[c.User.ID] = *c.User
		case idsync.ChangeUserRemoved:
			u := s.users[c.ID]
			u.ID, u.Removed = c.ID, c.Removal
			s.users[c.ID] = u
		case idsync.ChangeGroup:
			s.groups[c.Group.ID] = *c.Group
		case idsync.ChangeGroupRemoved:
			delete(s.groups, c.ID)
			delete(s.members, c.ID)
		case idsync.ChangeMemberAdded:
			if s.members[c.GroupID] == nil {
				s.members[c.GroupID] = map[string]idsync.MemberKind{}
			}
			s.members[c.GroupID][c.MemberID] = c.MemberKind
		case idsync.ChangeMemberRemoved:
			delete(s.members[c.GroupID], c.MemberID)
		case idsync.ChangeAssigned:
			s.assignments[*c.Assignment] = true
			s.seen[*c.Assignment] = true
		case idsync.ChangeSweep:
			for a := range s.assignments {
				if !s.seen[a] {
					delete(s.assignments, a)
				}
			}
			s.seen = map[idsync.Assignment]bool{}
		default:
			t.Fatalf("unexpected change kind %q", c.Kind)
		}
	}
}

func (s *snapshot) liveUsers() []string {
	var out []string
	for id, u := range s.users {
		if u.Removed == idsync.RemovalNone {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (s *snapshot) memberIDs(group string) []string {
	var out []string
	for m := range s.members[group] {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
