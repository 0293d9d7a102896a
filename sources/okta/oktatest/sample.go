package oktatest

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

func writeJSONBody(w io.Writer, v any) { _ = json.NewEncoder(w).Encode(v) }

// Sample names the objects LoadSample creates (org domain globex.test):
//
//	user (login name@globex.test)  status            groups
//	alice  Alice Archer, CTO       ACTIVE            Whale Users, Whale Admins
//	bob    Bob Baker               ACTIVE            Whale Users
//	carol  Carol Chen              PASSWORD_EXPIRED  Whale Users
//	dave   Dave Dunn               SUSPENDED         Whale Users
//	erin   Erin Ellis              DEPROVISIONED     Whale Users
//	frank  Frank Fox               STAGED            -
//	grace  Grace Green             LOCKED_OUT        Whale Users
//	heidi  Heidi Hall              ACTIVE            -
//
// Everyone (BUILT_IN) holds all eight. App "Whale" is assigned to Whale Users with role
// "reader" and directly to alice with role "admin".
type Sample struct {
	AppID  string
	Users  map[string]string // first name in lower case → user id
	Groups map[string]string // name → group id
}

// LoadSample fills the org with a small realistic directory (login domain
// globex.test) and, after it, advances the clock by 10 minutes so a first
// pull sees a settled org.
func (s *Server) LoadSample() Sample {
	out := Sample{Users: map[string]string{}, Groups: map[string]string{}}
	people := []struct{ first, last, status, title, dept string }{
		{"Alice", "Archer", "ACTIVE", "CTO", "Engineering"},
		{"Bob", "Baker", "ACTIVE", "Engineer", "Engineering"},
		{"Carol", "Chen", "PASSWORD_EXPIRED", "Designer", "Product"},
		{"Dave", "Dunn", "SUSPENDED", "Sales Lead", "Sales"},
		{"Erin", "Ellis", "DEPROVISIONED", "Engineer", "Engineering"},
		{"Frank", "Fox", "STAGED", "Intern", "Engineering"},
		{"Grace", "Green", "LOCKED_OUT", "Support", "Support"},
		{"Heidi", "Hall", "ACTIVE", "Accountant", "Finance"},
	}
	for i, p := range people {
		login := fmt.Sprintf("%s@globex.test", lower(p.first))
		u := s.CreateUser(User{
			Login: login, Email: login, FirstName: p.first, LastName: p.last,
			DisplayName: p.first + " " + p.last, EmployeeNumber: fmt.Sprintf("E%04d", i+1),
			Title: p.title, Department: p.dept,
		})
		if p.status != "ACTIVE" {
			s.SetStatus(u.ID, p.status, "user.lifecycle.update")
		}
		out.Users[lower(p.first)] = u.ID
	}
	users := s.CreateGroup("Whale Users", "Everyone who uses Whale")
	admins := s.CreateGroup("Whale Admins", "Whale administrators")
	everyone := s.CreateEveryone()
	out.Groups["Whale Users"], out.Groups["Whale Admins"], out.Groups["Everyone"] = users.ID, admins.ID, everyone.ID
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin", "grace"} {
		s.AddMember(users.ID, out.Users[name])
	}
	s.AddMember(admins.ID, out.Users["alice"])
	for _, id := range out.Users {
		s.AddMember(everyone.ID, id)
	}
	app := s.CreateApp("Whale")
	out.AppID = app.ID
	s.AssignGroup(app.ID, users.ID, "reader")
	s.AssignUser(app.ID, out.Users["alice"], "admin")
	s.Advance(10 * time.Minute)
	return out
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Generate adds users users (login userN@bench.test, all ACTIVE) and groups
// groups (each user in one group, round robin) without System Log entries,
// for benchmarks. It returns the user ids.
func (s *Server) Generate(users, groups int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Add(-time.Hour)
	gids := make([]string, groups)
	for i := range gids {
		g := &Group{ID: newID("00g"), Type: "OKTA_GROUP", Name: fmt.Sprintf("Bench Group %d", i), Created: now, LastUpdated: now, LastMembershipUpdated: now}
		s.st.groups[g.ID] = g
		s.st.groupIDs = append(s.st.groupIDs, g.ID)
		s.st.members[g.ID] = map[string]struct{}{}
		gids[i] = g.ID
	}
	ids := make([]string, users)
	depts := []string{"Engineering", "Sales", "Support", "Finance", "Product"}
	for i := range ids {
		u := &User{
			ID: newID("00u"), Status: "ACTIVE",
			Login: fmt.Sprintf("user%d@bench.test", i), Email: fmt.Sprintf("user%d@bench.test", i),
			FirstName: "User", LastName: fmt.Sprintf("Number%d", i), DisplayName: fmt.Sprintf("User Number%d", i),
			EmployeeNumber: fmt.Sprintf("B%06d", i), Title: "Staff", Department: depts[i%len(depts)],
			Created: now, Activated: now, StatusChanged: now, LastUpdated: now,
		}
		s.st.users[u.ID] = u
		s.st.index[u.ID] = u
		s.st.ids = append(s.st.ids, u.ID)
		if groups > 0 {
			s.st.members[gids[i%groups]][u.ID] = struct{}{}
		}
		ids[i] = u.ID
	}
	s.st.idsDirt = true
	clear(s.st.memSorted)
	s.st.invalidateApps()
	return ids
}

// AddIdleGroups creates n groups ("Unused A", "Unused B", …) that no sample
// configuration names, each with bob and heidi as members: what a read
// limited to the groups a policy names must skip.
func (s *Server) AddIdleGroups(sample Sample, n int) {
	for i := range n {
		g := s.CreateGroup("Unused "+string(rune('A'+i)), "")
		s.AddMember(g.ID, sample.Users["bob"])
		s.AddMember(g.ID, sample.Users["heidi"])
	}
}
