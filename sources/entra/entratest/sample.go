package entratest

import "fmt"

// Sample names what LoadSample created.
type Sample struct {
	// AppID is the "Whale" enterprise app (roles Admin, Writer, Reader):
	// "Whale Users" has default access, "Whale Writers" the Writer role and
	// carol.chen the Admin role.
	AppID  string
	Groups map[string]string // display name → id
	Users  map[string]string // userPrincipalName → id
}

// SampleDomain is the domain of the sample tenant's user names.
const SampleDomain = "contoso.test"

// LoadSample fills the tenant with a small company: five departments,
// "Whale Users" holding the Engineering and Sales groups (nested) plus two
// people directly, "Whale Admins", "Whale Writers", one disabled account,
// and people outside every Whale group.
func (s *Server) LoadSample() Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Sample{Groups: map[string]string{}, Users: map[string]string{}}
	people := []struct {
		first, last, dept, title, emp string
		disabled                      bool
	}{
		{"Alice", "Archer", "Engineering", "Staff Engineer", "E1001", false},
		{"Bob", "Baker", "Engineering", "Software Engineer", "E1002", false},
		{"Carol", "Chen", "Engineering", "Engineering Manager", "E1003", false},
		{"Dave", "Diaz", "Engineering", "Site Reliability Engineer", "E1004", false},
		{"Nia", "Nakamura", "Engineering", "Software Engineer", "E1005", true},
		{"Peggy", "Park", "Engineering", "Technical Writer", "E1006", false},
		{"Erin", "Evans", "Sales", "Account Executive", "S2001", false},
		{"Frank", "Fischer", "Sales", "Sales Director", "S2002", false},
		{"Grace", "Garcia", "Sales", "Sales Engineer", "S2003", false},
		{"Oscar", "Olsen", "Sales", "Account Executive", "S2004", false},
		{"Heidi", "Hughes", "Marketing", "Content Lead", "M3001", false},
		{"Ivan", "Ivanov", "Marketing", "Designer", "M3002", false},
		{"Judy", "Jones", "Finance", "Controller", "F4001", false},
		{"Mallory", "Moore", "IT", "IT Administrator", "I5001", false},
	}
	for _, p := range people {
		upn := fmt.Sprintf("%s.%s@%s", lower(p.first), lower(p.last), SampleDomain)
		out.Users[upn] = s.addUserLocked(User{
			UserPrincipalName: upn, Mail: upn, GivenName: p.first, Surname: p.last,
			DisplayName: p.first + " " + p.last, AccountEnabled: !p.disabled,
			EmployeeID: p.emp, JobTitle: p.title, Department: p.dept,
		})
	}
	group := func(name, desc string, members ...string) {
		id := s.addGroupLocked(name, desc)
		out.Groups[name] = id
		for _, m := range members {
			mid, ok := out.Users[m+"@"+SampleDomain]
			if !ok {
				mid = out.Groups[m]
			}
			if err := s.addMemberLocked(id, mid); err != nil {
				panic(err)
			}
		}
	}
	for _, p := range people {
		if _, ok := out.Groups[p.dept]; !ok {
			var members []string
			for _, q := range people {
				if q.dept == p.dept {
					members = append(members, lower(q.first)+"."+lower(q.last))
				}
			}
			group(p.dept, p.dept+" department", members...)
		}
	}
	group("Whale Users", "Everyone who uses Whale", "Engineering", "Sales", "heidi.hughes", "mallory.moore")
	group("Whale Admins", "Whale administrators", "carol.chen", "mallory.moore")
	group("Whale Writers", "Whale writers", "heidi.hughes", "peggy.park")
	out.AppID = s.addAppLocked("Whale", "Admin", "Writer", "Reader")
	must(s.assignAppLocked(out.AppID, out.Groups["Whale Users"], ""))
	must(s.assignAppLocked(out.AppID, out.Groups["Whale Writers"], "Writer"))
	must(s.assignAppLocked(out.AppID, out.Users["carol.chen@"+SampleDomain], "Admin"))
	return out
}

// Generate adds a synthetic tenant for benchmarks: users people in 8
// departments, groups groups; every user is a direct member of two groups,
// every tenth group is nested in the one before it, and an app (returned)
// is assigned to the first ten groups.
func (s *Server) Generate(users, groups int) (appID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	depts := []string{"Engineering", "Sales", "Marketing", "Finance", "Support", "Legal", "Operations", "Research"}
	gids := make([]string, groups)
	for g := range gids {
		gids[g] = s.addGroupLocked(fmt.Sprintf("Group %04d", g), "generated")
		if g%10 == 9 {
			must(s.addMemberLocked(gids[g-1], gids[g]))
		}
	}
	for i := range users {
		upn := fmt.Sprintf("user%06d@%s", i, SampleDomain)
		id := s.addUserLocked(User{
			UserPrincipalName: upn, Mail: upn, GivenName: "Given" + fmt.Sprint(i), Surname: "Family",
			DisplayName: fmt.Sprintf("User %06d", i), AccountEnabled: i%50 != 0,
			EmployeeID: fmt.Sprintf("G%06d", i), JobTitle: "Engineer", Department: depts[i%len(depts)],
		})
		if groups > 0 {
			a, b := i%groups, (i*31+7)%groups
			must(s.addMemberLocked(gids[a], id))
			if b != a {
				must(s.addMemberLocked(gids[b], id))
			}
		}
	}
	appID = s.addAppLocked("Generated", "Admin", "Writer")
	for g := 0; g < min(10, groups); g++ {
		must(s.assignAppLocked(appID, gids[g], ""))
	}
	return appID
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// SampleChanges makes the scripted changes `idsync demo` shows after the
// first sync, on a tenant filled by LoadSample, and describes each one:
// a new hire in Engineering (in scope through the nested group), a
// promotion to Whale Admins, a disabled account, a soft delete and a
// permanent delete.
func (s *Server) SampleChanges(smp Sample) ([]string, error) {
	upn := func(name string) string { return name + "@" + SampleDomain }
	var done []string
	step := func(desc string, err error) error {
		if err == nil {
			done = append(done, desc)
		}
		return err
	}
	hire := s.AddUser(User{
		UserPrincipalName: upn("rosa.rivera"), Mail: upn("rosa.rivera"), GivenName: "Rosa", Surname: "Rivera",
		DisplayName: "Rosa Rivera", AccountEnabled: true, EmployeeID: "E1007", JobTitle: "Software Engineer",
		Department: "Engineering",
	})
	smp.Users[upn("rosa.rivera")] = hire
	for _, err := range []error{
		step("hired "+upn("rosa.rivera")+" into Engineering", s.AddMember(smp.Groups["Engineering"], hire)),
		step("added "+upn("alice.archer")+" to Whale Admins", s.AddMember(smp.Groups["Whale Admins"], smp.Users[upn("alice.archer")])),
		step("disabled "+upn("dave.diaz"), s.DisableUser(smp.Users[upn("dave.diaz")])),
		step("deleted "+upn("grace.garcia")+" (recycle bin)", s.SoftDeleteUser(smp.Users[upn("grace.garcia")])),
		step("permanently deleted "+upn("oscar.olsen"), s.HardDeleteUser(smp.Users[upn("oscar.olsen")])),
	} {
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
