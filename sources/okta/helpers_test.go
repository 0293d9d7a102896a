package okta_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources/okta"
	"github.com/idsync/idsync/sources/okta/oktatest"
)

// open starts a source against srv on the emulator's clock: its waits
// advance that clock instead of sleeping.
func open(t testing.TB, srv *oktatest.Server, edit func(*okta.Config)) *okta.Source {
	t.Helper()
	cfg := okta.Config{
		OrgURL: srv.URL, Token: srv.Token, CAFile: srv.CAFile,
		Now:   srv.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { srv.Advance(d); return ctx.Err() },
	}
	if edit != nil {
		edit(&cfg)
	}
	src, err := okta.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return src
}

// snapshot applies changes the way the engine's snapshot does, so tests
// check the directory a sequence of pulls leaves behind.
type snapshot struct {
	users   map[string]idsync.User
	groups  map[string]idsync.Group
	members map[string]map[string]bool
	assign  map[string]map[string]bool // principal → roles

	cursor string
	pages  int
	kinds  map[idsync.ChangeKind]int
}

func newSnapshot() *snapshot {
	return &snapshot{users: map[string]idsync.User{}, groups: map[string]idsync.Group{},
		members: map[string]map[string]bool{}, assign: map[string]map[string]bool{}}
}

// pull runs one Pull from the snapshot's cursor and applies it.
func (s *snapshot) pull(t testing.TB, src *okta.Source) (full bool) {
	t.Helper()
	seenU, seenG := map[string]bool{}, map[string]bool{}
	seenM := map[string]map[string]bool{}
	seenA := map[string]map[string]bool{}
	s.kinds = map[idsync.ChangeKind]int{}
	s.pages = 0
	// Apply to a copy: a failed pull must leave the snapshot alone.
	users, groups := maps.Clone(s.users), maps.Clone(s.groups)
	members, assign := cloneSets(s.members), cloneSets(s.assign)
	next, full, err := src.Pull(context.Background(), s.cursor, func(page []idsync.Change) error {
		s.pages++
		for _, c := range page {
			s.kinds[c.Kind]++
			switch c.Kind {
			case idsync.ChangeUser:
				users[c.User.ID] = *c.User
				seenU[c.User.ID] = true
			case idsync.ChangeUserRemoved:
				delete(users, c.ID)
				delete(assign, c.ID)
				for _, m := range members {
					delete(m, c.ID)
				}
			case idsync.ChangeGroup:
				groups[c.Group.ID] = *c.Group
				seenG[c.Group.ID] = true
			case idsync.ChangeGroupRemoved:
				delete(groups, c.ID)
				delete(members, c.ID)
				delete(assign, c.ID)
			case idsync.ChangeMemberAdded:
				add(members, c.GroupID, c.MemberID)
				add(seenM, c.GroupID, c.MemberID)
			case idsync.ChangeMemberRemoved:
				delete(members[c.GroupID], c.MemberID)
			case idsync.ChangeAssigned:
				add(assign, c.Assignment.PrincipalID, c.Assignment.Role)
				add(seenA, c.Assignment.PrincipalID, c.Assignment.Role)
			case idsync.ChangeUnassigned:
				delete(assign, c.ID)
			case idsync.ChangeSweep:
				switch c.Sweep {
				case idsync.SweepMembers:
					for m := range members[c.GroupID] {
						if !seenM[c.GroupID][m] {
							delete(members[c.GroupID], m)
						}
					}
				case idsync.SweepAssignments:
					for p, roles := range assign {
						for r := range roles {
							if !seenA[p][r] {
								delete(roles, r)
							}
						}
						if len(roles) == 0 {
							delete(assign, p)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if full {
		for id := range users {
			if !seenU[id] {
				delete(users, id)
			}
		}
		for id := range groups {
			if !seenG[id] {
				delete(groups, id)
			}
		}
	}
	s.users, s.groups, s.members, s.assign, s.cursor = users, groups, members, assign, next
	return full
}

func add(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

func cloneSets(m map[string]map[string]bool) map[string]map[string]bool {
	out := make(map[string]map[string]bool, len(m))
	for k, v := range m {
		out[k] = maps.Clone(v)
	}
	return out
}

func (s *snapshot) roles(principal string) []string {
	return slices.Sorted(maps.Keys(s.assign[principal]))
}
