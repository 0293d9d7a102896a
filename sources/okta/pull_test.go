package okta_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/sources/okta"
	"github.com/idsync/idsync/sources/okta/oktatest"
)

func withApp(app string) func(*okta.Config) {
	return func(c *okta.Config) { c.Scope.AppID = app }
}

func TestPullFull(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	sample := srv.LoadSample()
	src := open(t, srv, withApp(sample.AppID))

	snap := newSnapshot()
	if full := snap.pull(t, src); !full {
		t.Fatal("first pull: full = false, want true")
	}
	wantStatus := map[string]idsync.Status{
		"alice": idsync.StatusActive, "bob": idsync.StatusActive, "carol": idsync.StatusActive,
		"dave": idsync.StatusDisabled, "erin": idsync.StatusDisabled, "frank": idsync.StatusStaged,
		"grace": idsync.StatusActive, "heidi": idsync.StatusActive,
	}
	if len(snap.users) != len(wantStatus) {
		t.Errorf("users = %d, want %d (DEPROVISIONED included)", len(snap.users), len(wantStatus))
	}
	for name, want := range wantStatus {
		u, ok := snap.users[sample.Users[name]]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if u.Status != want {
			t.Errorf("%s status = %s, want %s", name, u.Status, want)
		}
		if u.UserName != name+"@globex.test" || u.Email != u.UserName {
			t.Errorf("%s userName/email = %q/%q", name, u.UserName, u.Email)
		}
	}
	alice := snap.users[sample.Users["alice"]]
	if alice.GivenName != "Alice" || alice.FamilyName != "Archer" || alice.DisplayName != "Alice Archer" ||
		alice.Title != "CTO" || alice.Department != "Engineering" || alice.EmployeeID != "E0001" {
		t.Errorf("alice = %+v", alice)
	}
	if len(snap.groups) != 3 || snap.groups[sample.Groups["Whale Users"]].Name != "Whale Users" {
		t.Errorf("groups = %v", snap.groups)
	}
	if n := len(snap.members[sample.Groups["Whale Users"]]); n != 6 {
		t.Errorf("Whale Users members = %d, want 6", n)
	}
	if n := len(snap.members[sample.Groups["Everyone"]]); n != 0 {
		t.Errorf("Everyone members = %d, want 0 (BUILT_IN, not in scope: not read)", n)
	}
	wantRoles := map[string][]string{
		sample.Users["alice"]: {"admin"}, // direct assignment wins over the group's
		sample.Users["bob"]:   {"reader"},
		// A group assignment is reported for scope only; its role reaches
		// members through their app user profiles, where Okta settles it.
		sample.Groups["Whale Users"]: {""},
	}
	for p, want := range wantRoles {
		if got := snap.roles(p); !slices.Equal(got, want) {
			t.Errorf("roles of %s = %v, want %v", p, got, want)
		}
	}
	if got := snap.roles(sample.Users["heidi"]); len(got) != 0 {
		t.Errorf("heidi (unassigned) roles = %v", got)
	}
	if snap.kinds[idsync.ChangeSweep] != 2+1 {
		t.Errorf("sweeps = %d, want one per group read and one for assignments", snap.kinds[idsync.ChangeSweep])
	}
}

func TestPullMemberGroups(t *testing.T) {
	cases := []struct {
		name string
		edit func(*okta.Config)
		want map[string]int // group name → members read
	}{
		{"default", nil, map[string]int{"Whale Users": 6, "Whale Admins": 1, "Everyone": 0}},
		{"Everyone in scope", func(c *okta.Config) { c.Scope.Groups = []string{"everyone"} },
			map[string]int{"Whale Users": 6, "Whale Admins": 1, "Everyone": 8}},
		{"member groups named", func(c *okta.Config) {
			c.Scope.Groups, c.MemberGroups = []string{"Whale Users"}, []string{"Whale Admins"}
		}, map[string]int{"Whale Users": 6, "Whale Admins": 1, "Everyone": 0}},
		{"member groups exclude", func(c *okta.Config) { c.MemberGroups = []string{"Whale Admins"} },
			map[string]int{"Whale Users": 0, "Whale Admins": 1, "Everyone": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := oktatest.NewServer()
			defer srv.Close()
			sample := srv.LoadSample()
			snap := newSnapshot()
			snap.pull(t, open(t, srv, tc.edit))
			for name, want := range tc.want {
				if n := len(snap.members[sample.Groups[name]]); n != want {
					t.Errorf("%s members = %d, want %d", name, n, want)
				}
			}
			if len(snap.groups) != 3 {
				t.Errorf("groups = %d, want all 3 reported", len(snap.groups))
			}
		})
	}
}

func TestPullIncremental(t *testing.T) {
	type check func(t *testing.T, snap *snapshot, s oktatest.Sample)
	cases := []struct {
		name   string
		change func(srv *oktatest.Server, s oktatest.Sample)
		check  check
	}{
		{"profile update", func(srv *oktatest.Server, s oktatest.Sample) {
			srv.UpdateUser(s.Users["bob"], func(u *oktatest.User) { u.LastName, u.Title = "Baxter", "Staff Engineer" })
		}, func(t *testing.T, snap *snapshot, s oktatest.Sample) {
			if u := snap.users[s.Users["bob"]]; u.FamilyName != "Baxter" || u.Title != "Staff Engineer" || u.DisplayName != "Bob Baker" {
				t.Errorf("bob = %+v", u)
			}
		}},
		{"suspend", func(srv *oktatest.Server, s oktatest.Sample) { srv.Suspend(s.Users["bob"]) },
			wantStatus("bob", idsync.StatusDisabled)},
		{"unsuspend", func(srv *oktatest.Server, s oktatest.Sample) { srv.Unsuspend(s.Users["dave"]) },
			wantStatus("dave", idsync.StatusActive)},
		{"deactivate", func(srv *oktatest.Server, s oktatest.Sample) { srv.Deactivate(s.Users["bob"]) },
			wantStatus("bob", idsync.StatusDisabled)},
		{"activate staged", func(srv *oktatest.Server, s oktatest.Sample) { srv.Activate(s.Users["frank"]) },
			wantStatus("frank", idsync.StatusActive)},
		{"hard delete", func(srv *oktatest.Server, s oktatest.Sample) { srv.DeleteUser(s.Users["bob"]) },
			func(t *testing.T, snap *snapshot, s oktatest.Sample) {
				if _, ok := snap.users[s.Users["bob"]]; ok {
					t.Error("bob still present")
				}
				if r := snap.roles(s.Users["bob"]); len(r) != 0 {
					t.Errorf("bob still assigned %v", r)
				}
				if snap.members[s.Groups["Whale Users"]][s.Users["bob"]] {
					t.Error("bob still a member of Whale Users")
				}
			}},
		{"new user", func(srv *oktatest.Server, s oktatest.Sample) {
			srv.CreateUser(oktatest.User{ID: "00unewuser00000000", Login: "ivan@globex.test", FirstName: "Ivan", LastName: "Ivanov"})
		}, func(t *testing.T, snap *snapshot, s oktatest.Sample) {
			if u := snap.users["00unewuser00000000"]; u.UserName != "ivan@globex.test" || u.Status != idsync.StatusActive {
				t.Errorf("ivan = %+v", u)
			}
		}},
		{"group add", func(srv *oktatest.Server, s oktatest.Sample) { srv.AddMember(s.Groups["Whale Admins"], s.Users["bob"]) },
			func(t *testing.T, snap *snapshot, s oktatest.Sample) {
				if m := snap.members[s.Groups["Whale Admins"]]; !m[s.Users["bob"]] || !m[s.Users["alice"]] {
					t.Errorf("Whale Admins members = %v", m)
				}
			}},
		{"group remove", func(srv *oktatest.Server, s oktatest.Sample) {
			srv.RemoveMember(s.Groups["Whale Users"], s.Users["bob"])
		},
			func(t *testing.T, snap *snapshot, s oktatest.Sample) {
				if m := snap.members[s.Groups["Whale Users"]]; m[s.Users["bob"]] || len(m) != 5 {
					t.Errorf("Whale Users members = %v", m)
				}
				if r := snap.roles(s.Users["bob"]); len(r) != 0 {
					t.Errorf("bob keeps app roles %v after leaving the assigned group", r)
				}
			}},
		{"group rename", func(srv *oktatest.Server, s oktatest.Sample) {
			srv.RenameGroup(s.Groups["Whale Admins"], "Whale Owners", "")
		}, func(t *testing.T, snap *snapshot, s oktatest.Sample) {
			if g := snap.groups[s.Groups["Whale Admins"]]; g.Name != "Whale Owners" {
				t.Errorf("group = %+v", g)
			}
		}},
		{"group delete", func(srv *oktatest.Server, s oktatest.Sample) { srv.DeleteGroup(s.Groups["Whale Users"]) },
			func(t *testing.T, snap *snapshot, s oktatest.Sample) {
				if _, ok := snap.groups[s.Groups["Whale Users"]]; ok {
					t.Error("Whale Users still present")
				}
				if r := snap.roles(s.Groups["Whale Users"]); len(r) != 0 {
					t.Errorf("deleted group still assigned %v", r)
				}
				if r := snap.roles(s.Users["carol"]); len(r) != 0 {
					t.Errorf("carol keeps %v", r)
				}
			}},
		{"app assign with role", func(srv *oktatest.Server, s oktatest.Sample) { srv.AssignUser(s.AppID, s.Users["heidi"], "writer") },
			wantRoles("heidi", "writer")},
		{"app role change", func(srv *oktatest.Server, s oktatest.Sample) { srv.AssignUser(s.AppID, s.Users["alice"], "writer") },
			wantRoles("alice", "writer")},
		{"app unassign", func(srv *oktatest.Server, s oktatest.Sample) { srv.UnassignUser(s.AppID, s.Users["alice"]) },
			// alice is still covered by Whale Users' assignment
			wantRoles("alice", "reader")},
		{"app group assign", func(srv *oktatest.Server, s oktatest.Sample) {
			srv.AssignGroup(s.AppID, s.Groups["Whale Admins"], "admin")
		},
			func(t *testing.T, snap *snapshot, s oktatest.Sample) {
				if r := snap.roles(s.Groups["Whale Admins"]); !slices.Equal(r, []string{""}) {
					t.Errorf("Whale Admins roles = %v", r)
				}
				// alice's direct assignment still decides her role; the group's role would
				// reach members without one through their app user profiles.
				if r := snap.roles(s.Users["alice"]); !slices.Equal(r, []string{"admin"}) {
					t.Errorf("alice roles = %v", r)
				}
			}},
		{"app group unassign", func(srv *oktatest.Server, s oktatest.Sample) { srv.UnassignGroup(s.AppID, s.Groups["Whale Users"]) },
			func(t *testing.T, snap *snapshot, s oktatest.Sample) {
				if r := snap.roles(s.Groups["Whale Users"]); len(r) != 0 {
					t.Errorf("Whale Users roles = %v", r)
				}
				if r := snap.roles(s.Users["bob"]); len(r) != 0 {
					t.Errorf("bob roles = %v", r)
				}
				if r := snap.roles(s.Users["alice"]); !slices.Equal(r, []string{"admin"}) {
					t.Errorf("alice roles = %v", r)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := oktatest.NewServer()
			defer srv.Close()
			sample := srv.LoadSample()
			src := open(t, srv, withApp(sample.AppID))
			snap := newSnapshot()
			snap.pull(t, src)
			srv.Advance(time.Minute)
			tc.change(srv, sample)
			srv.Advance(time.Second)
			if full := snap.pull(t, src); full {
				t.Error("incremental pull reported full")
			}
			tc.check(t, snap, sample)
			// a second run with no change keeps the result
			srv.Advance(5 * time.Minute)
			snap.pull(t, src)
			tc.check(t, snap, sample)
		})
	}
}

func wantStatus(name string, want idsync.Status) func(*testing.T, *snapshot, oktatest.Sample) {
	return func(t *testing.T, snap *snapshot, s oktatest.Sample) {
		t.Helper()
		if got := snap.users[s.Users[name]].Status; got != want {
			t.Errorf("%s status = %s, want %s", name, got, want)
		}
	}
}

func wantRoles(name string, want ...string) func(*testing.T, *snapshot, oktatest.Sample) {
	return func(t *testing.T, snap *snapshot, s oktatest.Sample) {
		t.Helper()
		if got := snap.roles(s.Users[name]); !slices.Equal(got, want) {
			t.Errorf("%s roles = %v, want %v", name, got, want)
		}
	}
}

func TestPullLaggedSearch(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	sample := srv.LoadSample()
	srv.SetSearchLag(45 * time.Second)
	src := open(t, srv, nil) // default lag (overlap) 2m
	snap := newSnapshot()
	snap.pull(t, src)

	srv.Advance(time.Minute)
	srv.UpdateUser(sample.Users["carol"], func(u *oktatest.User) { u.Department = "Design" })
	srv.Advance(time.Second)
	snap.pull(t, src)
	if d := snap.users[sample.Users["carol"]].Department; d != "Product" {
		t.Fatalf("department = %q right after the change; the emulator's search lag did not apply", d)
	}
	srv.Advance(time.Minute) // now searchable, but last updated before the last pull
	snap.pull(t, src)
	if d := snap.users[sample.Users["carol"]].Department; d != "Design" {
		t.Errorf("department = %q after the lag, want Design (the watermark overlap must catch it)", d)
	}
}

func TestPullHardDeleteNotResurrectedByLaggedSearch(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	sample := srv.LoadSample()
	srv.SetSearchLag(90 * time.Second)
	src := open(t, srv, nil)
	snap := newSnapshot()
	snap.pull(t, src)
	srv.Advance(time.Minute)
	srv.UpdateUser(sample.Users["bob"], func(u *oktatest.User) { u.Title = "Lead" })
	srv.Advance(2 * time.Minute) // the update is searchable
	srv.DeleteUser(sample.Users["bob"])
	for range 3 { // the delete is not, for 90s
		srv.Advance(30 * time.Second)
		snap.pull(t, src)
		if _, ok := snap.users[sample.Users["bob"]]; ok {
			t.Fatal("deleted bob came back from a stale search index")
		}
	}
}

// An incremental run that finds nothing costs one users search, one groups
// filter and one System Log poll, with or without app scope.
func TestPullNoChangeCalls(t *testing.T) {
	for _, withScope := range []bool{false, true} {
		name := "without app scope"
		if withScope {
			name = "with app scope"
		}
		t.Run(name, func(t *testing.T) {
			srv := oktatest.NewServer()
			defer srv.Close()
			sample := srv.LoadSample()
			var edit func(*okta.Config)
			if withScope {
				edit = withApp(sample.AppID)
			}
			src := open(t, srv, edit)
			snap := newSnapshot()
			snap.pull(t, src)
			for _, wait := range []time.Duration{time.Second, time.Minute, 10 * time.Minute} {
				srv.Advance(wait)
				srv.ResetRequests()
				snap.pull(t, src)
				if n := srv.Requests(); n > 4 {
					t.Errorf("after %s: %d API calls, want <= 4", wait, n)
				}
				t.Logf("after %s: %d API calls", wait, srv.Requests())
			}
		})
	}
}

func TestPullRateLimitPacing(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.Generate(5000, 5) // 25 pages of users
	srv.SetRateLimit(oktatest.BucketUsers, 20)
	src := open(t, srv, func(c *okta.Config) { c.RateHeadroom = 25 })
	snap := newSnapshot()
	before := srv.Now()
	snap.pull(t, src)
	if len(snap.users) != 5000 {
		t.Fatalf("users = %d", len(snap.users))
	}
	if peak := srv.PeakInWindow(oktatest.BucketUsers); peak > 15 {
		t.Errorf("peak users requests in one window = %d, want <= 15 (limit 20 minus 25%% headroom)", peak)
	}
	if n := srv.Requests(oktatest.BucketUsers); n != 25 {
		t.Errorf("users requests = %d, want 25 (no 429 retried)", n)
	}
	_, waited := src.Stats()
	if waited < 30*time.Second {
		t.Errorf("waited %s, want at least one window reset", waited)
	}
	if srv.Now().Sub(before) < waited {
		t.Errorf("clock moved %s, less than the %s waited", srv.Now().Sub(before), waited)
	}
}

func TestPull429WaitsForReset(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.LoadSample()
	src := open(t, srv, nil)
	srv.ConsumeRateLimit(oktatest.BucketUsers, 600) // other clients spent the window
	start := srv.Now()
	snap := newSnapshot()
	snap.pull(t, src)
	if len(snap.users) != 8 {
		t.Fatalf("users = %d", len(snap.users))
	}
	if n := srv.Requests(oktatest.BucketUsers); n != 2 {
		t.Errorf("users requests = %d, want 2 (one 429, one retry after Reset)", n)
	}
	_, waited := src.Stats()
	if waited <= 0 || waited > 61*time.Second {
		t.Errorf("waited %s, want until X-Rate-Limit-Reset (<= 60s)", waited)
	}
	if srv.Now().Sub(start) < waited {
		t.Errorf("clock moved %s, less than the wait", srv.Now().Sub(start))
	}
}

func TestPullErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(srv *oktatest.Server, cfg *okta.Config)
		check func(t *testing.T, err error, cfg okta.Config)
	}{
		{"bad token", func(srv *oktatest.Server, cfg *okta.Config) { cfg.Token = "00badbadbadtoken" },
			func(t *testing.T, err error, cfg okta.Config) {
				if !errors.Is(err, sources.ErrUnauthorized) {
					t.Errorf("err = %v, want ErrUnauthorized", err)
				}
				if strings.Contains(err.Error(), cfg.Token) {
					t.Errorf("error shows the token: %v", err)
				}
				if !strings.Contains(err.Error(), "token") {
					t.Errorf("error does not say to check the token: %v", err)
				}
			}},
		{"forbidden", func(srv *oktatest.Server, cfg *okta.Config) {
			srv.Inject(oktatest.Fault{Path: "/api/v1/groups", Status: 403})
		}, wantErr(sources.ErrUnauthorized, "permission")},
		{"server error", func(srv *oktatest.Server, cfg *okta.Config) {
			srv.Inject(oktatest.Fault{Path: "/api/v1/groups", Status: 500})
		}, wantErr(nil, "list groups")},
		{"transient server error retried", func(srv *oktatest.Server, cfg *okta.Config) {
			srv.Inject(oktatest.Fault{Path: "/api/v1/groups", Status: 503, Times: 2})
		}, wantErr(nil, "")},
		{"dropped connection", func(srv *oktatest.Server, cfg *okta.Config) {
			srv.Inject(oktatest.Fault{Path: "/api/v1/users", Drop: true})
		}, wantErr(nil, "list users")},
		{"throttled for good: SDK gives no response", func(srv *oktatest.Server, cfg *okta.Config) {
			srv.SetRateLimit(oktatest.BucketGroups, 0)
		}, wantErr(nil, "list groups")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := oktatest.NewServer()
			defer srv.Close()
			srv.LoadSample()
			var cfg okta.Config
			src := open(t, srv, func(c *okta.Config) { tc.setup(srv, c); cfg = *c })
			_, _, err := src.Pull(context.Background(), "", func([]idsync.Change) error { return nil })
			t.Logf("err = %v", err)
			tc.check(t, err, cfg)
		})
	}
}

func wantErr(target error, contains string) func(*testing.T, error, okta.Config) {
	return func(t *testing.T, err error, _ okta.Config) {
		t.Helper()
		switch {
		case contains == "" && target == nil:
			if err != nil {
				t.Errorf("err = %v, want success", err)
			}
		case err == nil:
			t.Errorf("err = nil, want an error")
		case target != nil && !errors.Is(err, target):
			t.Errorf("err = %v, want %v", err, target)
		case !strings.Contains(err.Error(), contains):
			t.Errorf("err = %v, want it to mention %q", err, contains)
		}
	}
}

func TestPullEmitErrorStops(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.LoadSample()
	src := open(t, srv, nil)
	stop := errors.New("disk full")
	calls := 0
	_, _, err := src.Pull(context.Background(), "", func([]idsync.Change) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err = %v after %d emits, want the emit error after 1", err, calls)
	}
}

func TestPullCursorExpired(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	sample := srv.LoadSample()
	snap := newSnapshot()
	snap.pull(t, open(t, srv, nil))
	cases := []struct {
		name   string
		cursor string
		edit   func(*okta.Config)
	}{
		{"garbage", "not json", nil},
		{"other version", `{"v":99}`, nil},
		{"app scope added", snap.cursor, withApp(sample.AppID)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := open(t, srv, tc.edit).Pull(context.Background(), tc.cursor, func([]idsync.Change) error { return nil })
			if !errors.Is(err, sources.ErrCursorExpired) {
				t.Errorf("err = %v, want ErrCursorExpired", err)
			}
		})
	}
	t.Run("older than the log retention", func(t *testing.T) {
		srv.Advance(91 * 24 * time.Hour)
		_, _, err := open(t, srv, nil).Pull(context.Background(), snap.cursor, func([]idsync.Change) error { return nil })
		if !errors.Is(err, sources.ErrCursorExpired) {
			t.Errorf("err = %v, want ErrCursorExpired", err)
		}
	})
}

func TestPullRoleAttributeChangeExpiresCursor(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	sample := srv.LoadSample()
	snap := newSnapshot()
	snap.pull(t, open(t, srv, withApp(sample.AppID)))
	src := open(t, srv, func(c *okta.Config) { c.Scope.AppID, c.RoleAttribute = sample.AppID, "idsyncRole" })
	_, _, err := src.Pull(context.Background(), snap.cursor, func([]idsync.Change) error { return nil })
	if !errors.Is(err, sources.ErrCursorExpired) {
		t.Errorf("err = %v, want ErrCursorExpired", err)
	}
}

// Other apps' assignment changes are not the scoped app's business and
// cost no app API calls.
func TestPullIgnoresOtherApps(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	sample := srv.LoadSample()
	other := srv.CreateApp("Other")
	src := open(t, srv, withApp(sample.AppID))
	snap := newSnapshot()
	snap.pull(t, src)
	srv.Advance(time.Minute)
	srv.AssignUser(other.ID, sample.Users["heidi"], "owner")
	srv.AssignGroup(other.ID, sample.Groups["Everyone"], "member")
	srv.ResetRequests()
	snap.pull(t, src)
	if n := srv.Requests(oktatest.BucketApps); n != 0 {
		t.Errorf("%d app API calls for another app's changes", n)
	}
	if r := snap.roles(sample.Users["heidi"]); len(r) != 0 {
		t.Errorf("heidi roles = %v", r)
	}
}

// With the real clock (as idsync runs), pacing follows the server's Date
// and X-Rate-Limit-Reset headers. Short windows keep this quick.
func TestPullRateLimitRealClock(t *testing.T) {
	srv := oktatest.NewServer()
	defer srv.Close()
	srv.Generate(1000, 0) // 5 pages of users
	srv.SetRateWindow(2 * time.Second)
	srv.SetRateLimit(oktatest.BucketUsers, 4)
	// A client timeout shorter than the waits: it bounds each attempt, not
	// the time spent waiting for a window to reset.
	hc := &http.Client{Transport: srv.Client().Transport, Timeout: 500 * time.Millisecond}
	src, err := okta.Open(context.Background(), okta.Config{OrgURL: srv.URL, Token: srv.Token, HTTPClient: hc, RateHeadroom: 25})
	if err != nil {
		t.Fatal(err)
	}
	snap := newSnapshot()
	snap.pull(t, src)
	if len(snap.users) != 1000 {
		t.Errorf("users = %d", len(snap.users))
	}
	if peak := srv.PeakInWindow(oktatest.BucketUsers); peak > 3 {
		t.Errorf("peak = %d requests in a window, want <= 3", peak)
	}
	if n := srv.Requests(oktatest.BucketUsers); n != 5 {
		t.Errorf("users requests = %d, want 5 (no 429)", n)
	}
}
