package entra_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/sources/entra"
	"github.com/idsync/idsync/sources/entra/entratest"
)

const domain = "@" + entratest.SampleDomain

func TestPullFullRead(t *testing.T) {
	srv := newServer(t)
	sample := srv.LoadSample()
	cfg := config(srv)
	cfg.Scope.AppID = sample.AppID
	r := mustPull(t, open(t, cfg), "")
	if !r.full {
		t.Error("full = false on a read without cursor")
	}
	snap := newSnapshot()
	snap.apply(t, r.changes())

	if got := len(snap.liveUsers()); got != len(sample.Users) {
		t.Errorf("users = %d, want %d", got, len(sample.Users))
	}
	carol := snap.users[sample.Users["carol.chen"+domain]]
	want := idsync.User{ID: sample.Users["carol.chen"+domain], UserName: "carol.chen" + domain, Email: "carol.chen" + domain,
		GivenName: "Carol", FamilyName: "Chen", DisplayName: "Carol Chen", EmployeeID: "E1003",
		Title: "Engineering Manager", Department: "Engineering", Status: idsync.StatusActive}
	if carol != want {
		t.Errorf("carol = %+v\nwant    %+v", carol, want)
	}
	if st := snap.users[sample.Users["nia.nakamura"+domain]].Status; st != idsync.StatusDisabled {
		t.Errorf("disabled account: status %q", st)
	}
	if got := len(snap.groups); got != len(sample.Groups) {
		t.Errorf("groups = %d, want %d", got, len(sample.Groups))
	}
	whale := sample.Groups["Whale Users"]
	if g := snap.groups[whale]; g.Name != "Whale Users" || g.Description == "" {
		t.Errorf("Whale Users = %+v", g)
	}
	wantMembers := map[string]idsync.MemberKind{
		sample.Groups["Engineering"]:         idsync.MemberGroup,
		sample.Groups["Sales"]:               idsync.MemberGroup,
		sample.Users["heidi.hughes"+domain]:  idsync.MemberUser,
		sample.Users["mallory.moore"+domain]: idsync.MemberUser,
	}
	if fmt.Sprint(snap.members[whale]) != fmt.Sprint(wantMembers) {
		t.Errorf("Whale Users members = %v, want %v", snap.members[whale], wantMembers)
	}
	wantAssign := map[idsync.Assignment]bool{
		{PrincipalID: whale, PrincipalKind: idsync.MemberGroup}:                                           true,
		{PrincipalID: sample.Groups["Whale Writers"], PrincipalKind: idsync.MemberGroup, Role: "Writer"}:  true,
		{PrincipalID: sample.Users["carol.chen"+domain], PrincipalKind: idsync.MemberUser, Role: "Admin"}: true,
	}
	if fmt.Sprint(snap.assignments) != fmt.Sprint(wantAssign) {
		t.Errorf("assignments = %v\nwant %v", snap.assignments, wantAssign)
	}
	last := r.pages[len(r.pages)-1]
	if c := last[len(last)-1]; c.Kind != idsync.ChangeSweep || c.Sweep != idsync.SweepAssignments {
		t.Errorf("last change = %+v, want the assignments sweep", c)
	}
	// users/delta: 1 page, groups/delta: 1 page, 1 service principal, 1 page of assignments.
	for route, n := range map[string]int{"users/delta": 1, "groups/delta": 1, "servicePrincipals": 1, "appRoleAssignedTo": 1, "token": 1} {
		if got := srv.Calls(route); got != n {
			t.Errorf("%s calls = %d, want %d", route, got, n)
		}
	}
}

func TestPullIncremental(t *testing.T) {
	srv := newServer(t)
	sample := srv.LoadSample()
	cfg := config(srv)
	cfg.Scope.AppID = sample.AppID
	src := open(t, cfg)
	snap := newSnapshot()
	r := mustPull(t, src, "")
	snap.apply(t, r.changes())
	cursor := r.next
	user := func(upn string) string { return sample.Users[upn+domain] }
	var hired string

	tests := []struct {
		name   string
		change func() error
		check  func(t *testing.T, changes []idsync.Change)
	}{
		{"nothing changed", func() error { return nil }, func(t *testing.T, cs []idsync.Change) {
			for _, c := range cs {
				if c.Kind != idsync.ChangeAssigned && c.Kind != idsync.ChangeSweep {
					t.Errorf("unexpected change %+v", c)
				}
			}
		}},
		{"new hire", func() error {
			hired = srv.AddUser(entratest.User{UserPrincipalName: "quinn.quade" + domain, GivenName: "Quinn", Surname: "Quade",
				DisplayName: "Quinn Quade", AccountEnabled: true, JobTitle: "Engineer", Department: "Engineering"})
			return srv.AddMember(sample.Groups["Engineering"], hired)
		}, func(t *testing.T, cs []idsync.Change) {
			if u := snap.users[hired]; u.UserName != "quinn.quade"+domain || u.Status != idsync.StatusActive {
				t.Errorf("hired user = %+v", u)
			}
			if snap.members[sample.Groups["Engineering"]][hired] != idsync.MemberUser {
				t.Error("hire not in Engineering")
			}
			if g := snap.groups[sample.Groups["Engineering"]]; g.Name != "Engineering" {
				t.Errorf("membership-only change blanked the group: %+v", g)
			}
		}},
		{"title change", func() error {
			return srv.UpdateUser(user("bob.baker"), func(u *entratest.User) { u.JobTitle = "Senior Software Engineer" })
		}, func(t *testing.T, cs []idsync.Change) {
			if got := snap.users[user("bob.baker")].Title; got != "Senior Software Engineer" {
				t.Errorf("title = %q", got)
			}
		}},
		{"disabled account", func() error { return srv.DisableUser(user("dave.diaz")) }, func(t *testing.T, cs []idsync.Change) {
			if st := snap.users[user("dave.diaz")].Status; st != idsync.StatusDisabled {
				t.Errorf("status = %q", st)
			}
		}},
		{"soft delete", func() error { return srv.SoftDeleteUser(user("erin.evans")) }, func(t *testing.T, cs []idsync.Change) {
			if !slices.Contains(cs, idsync.UserRemovedChange(user("erin.evans"), idsync.RemovalSoft)) {
				t.Errorf("no soft removal in %+v", cs)
			}
		}},
		{"restore after soft delete", func() error { return srv.RestoreUser(user("erin.evans")) }, func(t *testing.T, cs []idsync.Change) {
			if u := snap.users[user("erin.evans")]; u.Removed != idsync.RemovalNone || u.UserName != "erin.evans"+domain {
				t.Errorf("restored user = %+v", u)
			}
		}},
		{"hard delete", func() error { return srv.HardDeleteUser(user("oscar.olsen")) }, func(t *testing.T, cs []idsync.Change) {
			if !slices.Contains(cs, idsync.UserRemovedChange(user("oscar.olsen"), idsync.RemovalHard)) {
				t.Errorf("no hard removal in %+v", cs)
			}
			if _, ok := snap.members[sample.Groups["Sales"]][user("oscar.olsen")]; ok {
				t.Error("deleted user still a member of Sales")
			}
		}},
		{"hard delete from recycle bin", func() error {
			if err := srv.SoftDeleteUser(user("ivan.ivanov")); err != nil {
				return err
			}
			return srv.HardDeleteUser(user("ivan.ivanov"))
		}, func(t *testing.T, cs []idsync.Change) {
			if snap.users[user("ivan.ivanov")].Removed != idsync.RemovalHard {
				t.Errorf("removal = %q", snap.users[user("ivan.ivanov")].Removed)
			}
		}},
		{"promotion via group", func() error { return srv.AddMember(sample.Groups["Whale Admins"], user("alice.archer")) },
			func(t *testing.T, cs []idsync.Change) {
				want := idsync.MemberAddedChange(sample.Groups["Whale Admins"], user("alice.archer"), idsync.MemberUser)
				if !slices.Contains(cs, want) {
					t.Errorf("no %+v in %+v", want, cs)
				}
			}},
		{"member removed", func() error { return srv.RemoveMember(sample.Groups["Whale Writers"], user("peggy.park")) },
			func(t *testing.T, cs []idsync.Change) {
				want := idsync.MemberRemovedChange(sample.Groups["Whale Writers"], user("peggy.park"))
				if !slices.Contains(cs, want) {
					t.Errorf("no %+v in %+v", want, cs)
				}
			}},
		{"new group nested into another", func() error {
			id := srv.AddGroup("Marketing Leads", "")
			if err := srv.AddMember(id, user("heidi.hughes")); err != nil {
				return err
			}
			return srv.AddMember(sample.Groups["Whale Users"], id)
		}, func(t *testing.T, cs []idsync.Change) {
			id, _ := srv.GroupID("Marketing Leads")
			if snap.groups[id].Name != "Marketing Leads" {
				t.Errorf("new group = %+v", snap.groups[id])
			}
			if snap.members[sample.Groups["Whale Users"]][id] != idsync.MemberGroup {
				t.Error("nested group not a member of Whale Users")
			}
		}},
		{"group renamed", func() error { return srv.RenameGroup(sample.Groups["Finance"], "Finance & Accounting") },
			func(t *testing.T, cs []idsync.Change) {
				if g := snap.groups[sample.Groups["Finance"]]; g.Name != "Finance & Accounting" {
					t.Errorf("group = %+v", g)
				}
			}},
		{"group deleted", func() error { return srv.DeleteGroup(sample.Groups["Marketing"]) }, func(t *testing.T, cs []idsync.Change) {
			if !slices.Contains(cs, idsync.GroupRemovedChange(sample.Groups["Marketing"])) {
				t.Errorf("no group removal in %+v", cs)
			}
		}},
		{"app role assigned", func() error { return srv.AssignApp(sample.AppID, user("bob.baker"), "Writer") },
			func(t *testing.T, cs []idsync.Change) {
				a := idsync.Assignment{PrincipalID: user("bob.baker"), PrincipalKind: idsync.MemberUser, Role: "Writer"}
				if !snap.assignments[a] {
					t.Errorf("assignment missing: %v", snap.assignments)
				}
			}},
		{"app role unassigned", func() error { return srv.UnassignApp(sample.AppID, user("carol.chen"), "Admin") },
			func(t *testing.T, cs []idsync.Change) {
				a := idsync.Assignment{PrincipalID: user("carol.chen"), PrincipalKind: idsync.MemberUser, Role: "Admin"}
				if snap.assignments[a] {
					t.Error("withdrawn assignment survived the sweep")
				}
				if len(snap.assignments) != 3 {
					t.Errorf("assignments = %v", snap.assignments)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.change(); err != nil {
				t.Fatal(err)
			}
			r := mustPull(t, src, cursor)
			if r.full {
				t.Error("full = true on an incremental read")
			}
			cs := r.changes()
			snap.apply(t, cs)
			tt.check(t, cs)
			cursor = r.next
		})
	}
	t.Run("snapshot equals a fresh full read", func(t *testing.T) {
		fresh := newSnapshot()
		fresh.apply(t, mustPull(t, src, "").changes())
		if !slices.Equal(fresh.liveUsers(), snap.liveUsers()) {
			t.Errorf("live users differ:\nfresh %v\nincr  %v", fresh.liveUsers(), snap.liveUsers())
		}
		for id, g := range fresh.groups {
			if snap.groups[id] != g || !slices.Equal(fresh.memberIDs(id), snap.memberIDs(id)) {
				t.Errorf("group %s differs: %+v %v vs %+v %v", id, g, fresh.memberIDs(id), snap.groups[id], snap.memberIDs(id))
			}
		}
		if fmt.Sprint(fresh.assignments) != fmt.Sprint(snap.assignments) {
			t.Errorf("assignments differ")
		}
	})
}

func TestPullSampleChanges(t *testing.T) {
	srv := newServer(t)
	sample := srv.LoadSample()
	src := open(t, config(srv))
	r := mustPull(t, src, "")
	done, err := srv.SampleChanges(sample)
	if err != nil || len(done) != 5 {
		t.Fatalf("SampleChanges: %v %v", done, err)
	}
	cs := mustPull(t, src, r.next).changes()
	want := []idsync.Change{
		idsync.MemberAddedChange(sample.Groups["Engineering"], sample.Users["rosa.rivera"+domain], idsync.MemberUser),
		idsync.MemberAddedChange(sample.Groups["Whale Admins"], sample.Users["alice.archer"+domain], idsync.MemberUser),
		idsync.UserRemovedChange(sample.Users["grace.garcia"+domain], idsync.RemovalSoft),
		idsync.UserRemovedChange(sample.Users["oscar.olsen"+domain], idsync.RemovalHard),
	}
	for _, w := range want {
		if !slices.Contains(cs, w) {
			t.Errorf("missing %+v", w)
		}
	}
	// hire + disabled user + the two removals; members of the changed groups
	if users := slices.DeleteFunc(slices.Clone(cs), func(c idsync.Change) bool {
		return c.Kind != idsync.ChangeUser && c.Kind != idsync.ChangeUserRemoved
	}); len(users) != 4 {
		t.Errorf("user changes = %+v", users)
	}
}

func TestPullPartialUpdates(t *testing.T) {
	srv := newServer(t)
	sample := srv.LoadSample()
	srv.PartialUpdates = true
	src := open(t, config(srv))
	snap := newSnapshot()
	r := mustPull(t, src, "")
	snap.apply(t, r.changes())
	bob, dave := sample.Users["bob.baker"+domain], sample.Users["dave.diaz"+domain]
	if err := srv.UpdateUser(bob, func(u *entratest.User) { u.JobTitle = "Staff Engineer" }); err != nil {
		t.Fatal(err)
	}
	if err := srv.DisableUser(dave); err != nil {
		t.Fatal(err)
	}
	hire := srv.AddUser(entratest.User{UserPrincipalName: "new" + domain, AccountEnabled: true})
	r = mustPull(t, src, r.next)
	snap.apply(t, r.changes())
	if u := snap.users[bob]; u.Title != "Staff Engineer" || u.UserName != "bob.baker"+domain || u.GivenName != "Bob" {
		t.Errorf("bob = %+v", u)
	}
	if u := snap.users[dave]; u.Status != idsync.StatusDisabled || u.DisplayName != "Dave Diaz" {
		t.Errorf("dave = %+v", u)
	}
	if snap.users[hire].UserName != "new"+domain {
		t.Errorf("hire = %+v", snap.users[hire])
	}
	if got := srv.Calls("users/{id}"); got != 2 {
		t.Errorf("re-read %d users, want 2 (the partial ones)", got)
	}

	// A user deleted between the delta page and its re-read: the recycle
	// bin says how; a 404 with the user in neither place and a second read
	// that finds it is no delete.
	cursor := r.next
	for _, tc := range []struct {
		name, user string
		delete     func(id string) error
		want       func(id string) idsync.Change
	}{
		{"soft-deleted before the re-read", "alice.archer", srv.SoftDeleteUser,
			func(id string) idsync.Change { return idsync.UserRemovedChange(id, idsync.RemovalSoft) }},
		{"deleted for good before the re-read", "carol.chen", srv.HardDeleteUser,
			func(id string) idsync.Change { return idsync.UserRemovedChange(id, idsync.RemovalHard) }},
		{"a transient 404", "erin.evans", func(id string) error { srv.FailNext("users/"+id, http.StatusNotFound, 1); return nil },
			func(id string) idsync.Change { u, _ := srv.User(id); return userChange(u) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := sample.Users[tc.user+domain]
			if err := srv.UpdateUser(id, func(u *entratest.User) { u.Department = "R&D" }); err != nil {
				t.Fatal(err)
			}
			hooked := make(chan error, 1)
			srv.BeforeNext("users/{id}", func() { hooked <- tc.delete(id) })
			r := mustPull(t, src, cursor)
			hookRan(t, hooked)
			cursor = r.next
			var about []string // the user's changes (the round also reports the last subtest's delete again)
			for _, c := range r.changes() {
				if c.ID == id || c.User != nil && c.User.ID == id {
					about = append(about, describe(c))
				}
			}
			if want := []string{describe(tc.want(id))}; !slices.Equal(about, want) {
				t.Errorf("changes of the user %q, want %q", about, want)
			}
		})
	}
}

func describe(c idsync.Change) string {
	if c.User != nil {
		return fmt.Sprintf("%s %+v", c.Kind, *c.User)
	}
	return fmt.Sprintf("%s %s %s", c.Kind, c.ID, c.Removal)
}

// userChange is the change the source makes of an emulator user.
func userChange(u entratest.User) idsync.Change {
	status := idsync.StatusActive
	if !u.AccountEnabled {
		status = idsync.StatusDisabled
	}
	return idsync.UserChange(idsync.User{ID: u.ID, UserName: u.UserPrincipalName, Email: u.Mail, GivenName: u.GivenName,
		FamilyName: u.Surname, DisplayName: u.DisplayName, EmployeeID: u.EmployeeID, Title: u.JobTitle,
		Department: u.Department, Status: status})
}

func TestPullLargeGroupSplitAcrossPages(t *testing.T) {
	srv := newServer(t)
	big := srv.AddGroup("Everyone", "all staff")
	var want []string
	for i := range 1234 {
		id := srv.AddUser(entratest.User{UserPrincipalName: fmt.Sprintf("u%04d%s", i, domain), AccountEnabled: true})
		if err := srv.AddMember(big, id); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	small := srv.AddGroup("After", "")
	if err := srv.AddMember(small, want[0]); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	src := open(t, config(srv))
	r := mustPull(t, src, "")
	snap := newSnapshot()
	snap.apply(t, r.changes())
	if got := snap.memberIDs(big); !slices.Equal(got, want) {
		t.Errorf("Everyone has %d members, want %d", len(got), len(want))
	}
	if g := snap.groups[big]; g.Name != "Everyone" {
		t.Errorf("group = %+v (continuation pages must not blank it)", g)
	}
	if len(snap.memberIDs(small)) != 1 {
		t.Errorf("group after the split has members %v", snap.memberIDs(small))
	}
	if got := srv.Calls("groups/delta"); got != 3 { // 500 + 500 + 234 (+1) member links
		t.Errorf("groups/delta pages = %d, want 3", got)
	}
	if got := srv.Calls("users/delta"); got != 7 { // 1234 users / 200
		t.Errorf("users/delta pages = %d, want 7", got)
	}
	if len(r.pages) != 10 {
		t.Errorf("emitted %d pages, want one per Graph page (10)", len(r.pages))
	}
}

func TestPullAssignmentsPaged(t *testing.T) {
	srv := newServer(t)
	app := srv.AddApp("Big", "Reader")
	for i := range 1100 {
		id := srv.AddUser(entratest.User{UserPrincipalName: fmt.Sprintf("a%04d%s", i, domain), AccountEnabled: true})
		role := ""
		if i%2 == 0 {
			role = "Reader"
		}
		if err := srv.AssignApp(app, id, role); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config(srv)
	cfg.Scope.AppID = app
	snap := newSnapshot()
	snap.apply(t, mustPull(t, open(t, cfg), "").changes())
	readers := 0
	for a := range snap.assignments {
		if a.Role == "Reader" {
			readers++
		}
	}
	if len(snap.assignments) != 1100 || readers != 550 {
		t.Errorf("assignments = %d (readers %d), want 1100 (550)", len(snap.assignments), readers)
	}
	if got := srv.Calls("appRoleAssignedTo"); got != 2 { // 999 + 101
		t.Errorf("appRoleAssignedTo calls = %d, want 2", got)
	}
}

func TestPullExpiredCursor(t *testing.T) {
	srv := newServer(t)
	srv.LoadSample()
	src := open(t, config(srv))
	r := mustPull(t, src, "")
	srv.ExpireDeltaTokens()
	got := pull(src, r.next)
	if !errors.Is(got.err, sources.ErrCursorExpired) {
		t.Fatalf("err = %v, want ErrCursorExpired", got.err)
	}
	if got.next != "" {
		t.Errorf("cursor %q returned with an error", got.next)
	}
	again := mustPull(t, src, "")
	if !again.full || len(again.changes()) != len(r.changes()) {
		t.Errorf("full read after expiry: full=%v changes=%d, want %d", again.full, len(again.changes()), len(r.changes()))
	}

	for _, tc := range []struct{ name, cursor string }{
		{"garbage", "not json"},
		{"other version", `{"v":9,"users":"x","groups":"y"}`},
		{"other graph_url", `{"v":1,"users":"https://graph.microsoft.com/v1.0/users/delta()?$deltatoken=a","groups":"https://graph.microsoft.com/v1.0/groups/delta()?$deltatoken=b"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := pull(src, tc.cursor).err; !errors.Is(err, sources.ErrCursorExpired) {
				t.Errorf("err = %v, want ErrCursorExpired", err)
			}
		})
	}
}

func TestPullThrottling(t *testing.T) {
	srv := newServer(t)
	srv.Generate(450, 3)
	src := open(t, config(srv))

	t.Run("429 storm converges", func(t *testing.T) {
		srv.Throttle("", 5, 0)
		r := mustPull(t, src, "")
		// The first request of a full read (the recycle bin's) takes the retries.
		if got := srv.Calls("users/delta") + srv.Calls("deletedItems"); got != 3+2+5 {
			t.Errorf("users/delta + deletedItems calls = %d, want 3 + 2 pages + 5 retries", got)
		}
		snap := newSnapshot()
		snap.apply(t, r.changes())
		if len(snap.liveUsers()) != 450 {
			t.Errorf("users = %d", len(snap.liveUsers()))
		}
	})
	t.Run("Retry-After is waited for", func(t *testing.T) {
		srv.Throttle("groups/delta", 1, time.Second)
		mustPull(t, src, "")
	})
	t.Run("503 retried", func(t *testing.T) {
		srv.FailNext("users/delta", http.StatusServiceUnavailable, 2)
		mustPull(t, src, "")
	})
	t.Run("Retry-After beyond the bound fails without waiting", func(t *testing.T) {
		srv.Throttle("groups/delta", 1, 10*time.Minute)
		r := pull(src, "")
		if r.err == nil || !strings.Contains(r.err.Error(), "429") {
			t.Fatalf("err = %v, want the 429", r.err)
		}
		mustPull(t, src, "")
	})
	t.Run("storm beyond the retry budget fails cleanly, next run converges", func(t *testing.T) {
		srv.Throttle("users/delta", 7, 0) // first try + 6 retries
		r := pull(src, "")
		if r.err == nil || r.next != "" {
			t.Fatalf("err = %v, next = %q; want an error and no cursor", r.err, r.next)
		}
		if errors.Is(r.err, sources.ErrCursorExpired) || errors.Is(r.err, sources.ErrUnauthorized) {
			t.Errorf("throttling misclassified: %v", r.err)
		}
		mustPull(t, src, "")
	})
}

func TestPullServerErrorOnPageK(t *testing.T) {
	srv := newServer(t)
	srv.Generate(1000, 5)
	src := open(t, config(srv))
	srv.FailPage("users/delta", 3, http.StatusInternalServerError)
	r := pull(src, "")
	if r.err == nil {
		t.Fatal("Pull succeeded through a 500")
	}
	if r.next != "" {
		t.Errorf("cursor %q returned with an error", r.next)
	}
	if !strings.Contains(r.err.Error(), "page 3") || !strings.Contains(r.err.Error(), "500") {
		t.Errorf("error does not say where: %v", r.err)
	}
	if len(r.pages) != 2 {
		t.Errorf("emitted %d pages before the failure, want 2", len(r.pages))
	}
	again := mustPull(t, src, "")
	snap := newSnapshot()
	snap.apply(t, again.changes())
	if len(snap.liveUsers()) != 1000 {
		t.Errorf("next run read %d users", len(snap.liveUsers()))
	}
}

func TestPullIncrementalServerError(t *testing.T) {
	srv := newServer(t)
	srv.LoadSample()
	src := open(t, config(srv))
	r := mustPull(t, src, "")
	srv.FailNext("groups/delta", http.StatusBadGateway, 1)
	if got := pull(src, r.next); got.err == nil || got.next != "" {
		t.Fatalf("err = %v, next = %q", got.err, got.next)
	}
	mustPull(t, src, r.next) // the old cursor is still good
}

func TestPullEmitErrorStops(t *testing.T) {
	srv := newServer(t)
	srv.Generate(500, 2)
	src := open(t, config(srv))
	stop := errors.New("disk full")
	pages := 0
	next, _, err := src.Pull(context.Background(), "", func([]idsync.Change) error {
		pages++
		return stop
	})
	if !errors.Is(err, stop) || next != "" || pages != 1 {
		t.Errorf("err = %v, next = %q, pages = %d", err, next, pages)
	}
}

func TestPullCredentials(t *testing.T) {
	srv := newServer(t)
	srv.LoadSample()

	t.Run("wrong client secret", func(t *testing.T) {
		cfg := config(srv)
		cfg.ClientSecret = "s3cr3t-that-is-wrong"
		r := pull(open(t, cfg), "")
		if !errors.Is(r.err, sources.ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", r.err)
		}
		msg := r.err.Error()
		t.Log(msg)
		if strings.Contains(msg, cfg.ClientSecret) {
			t.Errorf("error shows the secret: %s", msg)
		}
		for _, want := range []string{srv.ClientID, srv.TenantID, "client_secret", "AADSTS7000215"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not mention %q", msg, want)
			}
		}
	})
	for _, tc := range []struct {
		name string
		edit func(*entra.Config)
	}{
		{"unknown client id", func(c *entra.Config) { c.ClientID = "00000000-0000-0000-0000-0000000000cc" }},
		{"unknown tenant", func(c *entra.Config) { c.TenantID = "00000000-0000-0000-0000-0000000000aa" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(srv)
			tc.edit(&cfg)
			r := pull(open(t, cfg), "")
			if !errors.Is(r.err, sources.ErrUnauthorized) {
				t.Errorf("err = %v, want ErrUnauthorized", r.err)
			}
		})
	}
	t.Run("certificate", func(t *testing.T) {
		cfg := config(srv)
		cfg.ClientSecret = ""
		cfg.CertificateFile = srv.CertificateFile
		r := mustPull(t, open(t, cfg), "")
		if len(r.changes()) == 0 {
			t.Error("no changes")
		}
	})
	t.Run("graph rejects the token", func(t *testing.T) {
		srv.FailNext("users/delta", http.StatusUnauthorized, 1)
		if r := pull(open(t, config(srv)), ""); !errors.Is(r.err, sources.ErrUnauthorized) {
			t.Errorf("err = %v, want ErrUnauthorized", r.err)
		}
	})
	t.Run("missing permission", func(t *testing.T) {
		srv.FailNext("groups/delta", http.StatusForbidden, 1)
		r := pull(open(t, config(srv)), "")
		if !errors.Is(r.err, sources.ErrUnauthorized) || !strings.Contains(r.err.Error(), "GroupMember.Read.All") {
			t.Errorf("err = %v", r.err)
		}
	})
	t.Run("CA not trusted", func(t *testing.T) {
		cfg := config(srv)
		cfg.CAFile = ""
		if r := pull(open(t, cfg), ""); r.err == nil || errors.Is(r.err, sources.ErrUnauthorized) {
			t.Errorf("err = %v, want a TLS error", r.err)
		}
	})
	t.Run("HTTPClient instead of ca_file", func(t *testing.T) {
		cfg := config(srv)
		cfg.CAFile = ""
		cfg.HTTPClient = srv.Client()
		mustPull(t, open(t, cfg), "")
	})
	t.Run("unknown app", func(t *testing.T) {
		cfg := config(srv)
		cfg.Scope.AppID = "00000000-1111-2222-3333-444444444444"
		r := pull(open(t, cfg), "")
		if r.err == nil || !strings.Contains(r.err.Error(), "scope.app_id") {
			t.Errorf("err = %v", r.err)
		}
	})
}

func TestOpenValidates(t *testing.T) {
	good := entra.Config{TenantID: "contoso.onmicrosoft.com", ClientID: "c", ClientSecret: "s"}
	tests := []struct {
		name  string
		edit  func(*entra.Config)
		field string
	}{
		{"no tenant", func(c *entra.Config) { c.TenantID = "" }, "tenant_id"},
		{"bad tenant", func(c *entra.Config) { c.TenantID = "a/b" }, "tenant_id"},
		{"no client", func(c *entra.Config) { c.ClientID = "" }, "client_id"},
		{"no credential", func(c *entra.Config) { c.ClientSecret = "" }, "client_secret"},
		{"two credentials", func(c *entra.Config) { c.CertificateFile = "x.pem" }, "certificate_file"},
		{"password without certificate", func(c *entra.Config) { c.CertificatePassword = "p" }, "certificate_password"},
		{"http graph", func(c *entra.Config) { c.GraphURL = "http://graph.example/v1.0" }, "graph_url"},
		{"app id not a guid", func(c *entra.Config) { c.Scope.AppID = "Whale" }, "scope.app_id"},
		{"bad authority", func(c *entra.Config) { c.AuthorityURL = "login" }, "authority_url"},
		{"missing ca file", func(c *entra.Config) { c.CAFile = "/nonexistent/ca.pem" }, "ca_file"},
		{"missing certificate", func(c *entra.Config) { c.ClientSecret, c.CertificateFile = "", "/nonexistent.pem" }, "certificate_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			_, err := entra.Open(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("err = %v, want one naming %s", err, tt.field)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		if _, err := entra.Open(context.Background(), good); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("String hides the secret", func(t *testing.T) {
		cfg := good
		cfg.ClientSecret = "hunter2"
		if s := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg); strings.Contains(s, "hunter2") {
			t.Errorf("secret printed: %s", s)
		}
	})
}
