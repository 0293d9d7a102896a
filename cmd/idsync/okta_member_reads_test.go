package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/sources/okta"
	"github.com/idsync/idsync/sources/okta/oktatest"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
	"github.com/idsync/idsync/targets/scim"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// The engine over Okta with member reads limited to what the policy names
// (sources/okta member_reads_test.go tests the reads themselves): memberships
// of unread groups survive full reads, and a config edit reads a newly named
// group before anyone is evaluated.

// memberOrg is the sample org plus ten groups no policy here names.
func memberOrg(t *testing.T) (*oktatest.Server, oktatest.Sample) {
	t.Helper()
	srv := oktatest.NewServer()
	t.Cleanup(srv.Close)
	sample := srv.LoadSample()
	srv.AddIdleGroups(sample, 10)
	srv.Advance(10 * time.Minute)
	return srv, sample
}

// openOkta opens a source on srv on the emulator's clock: its waits advance
// that clock instead of sleeping.
func openOkta(t *testing.T, srv *oktatest.Server, edit func(*okta.Config)) *okta.Source {
	t.Helper()
	cfg := okta.Config{OrgURL: srv.URL, Token: srv.Token, CAFile: srv.CAFile, Now: srv.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { srv.Advance(d); return ctx.Err() }}
	edit(&cfg)
	src, err := okta.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open okta: %v", err)
	}
	return src
}

// memberConn is a connection as cmd builds it: scope Whale Users, the given
// role rules, and member reads limited to what they name.
func memberConn(t *testing.T, srv *oktatest.Server, tgt *scim.Client, rules []sync.RoleRule) *sync.Connection {
	t.Helper()
	scope := sources.Scope{Groups: []string{"Whale Users"}}
	src := openOkta(t, srv, func(c *okta.Config) { c.Scope = scope })
	var named []string
	for _, r := range rules {
		named = append(named, r.Group)
	}
	src.LimitMemberReads(append([]string{}, named...))
	return &sync.Connection{Name: "globex", SourceType: "okta", Source: src, Target: tgt,
		Policy: sync.Policy{Scope: scope, DefaultRole: "reader", Rules: rules, Deprovision: sync.DefaultDeprovision}}
}

func memberEnv(t *testing.T) (*state.Store, *scim.Client) {
	t.Helper()
	st, err := state.Open(context.Background(), t.TempDir()+"/idsync.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws := scimtest.NewServer(scimtest.Options{Token: "ws"})
	t.Cleanup(ws.Close)
	tgt, err := scim.New(scim.Config{URL: ws.URL, Token: "ws", RateLimit: scim.Rate(0)})
	if err != nil {
		t.Fatal(err)
	}
	return st, tgt
}

func groupUsers(t *testing.T, st *state.Store, group string) []string {
	t.Helper()
	var ids []string
	err := st.View(context.Background(), func(tx *state.Tx) error {
		var err error
		ids, err = tx.GroupUsers("globex", []string{group})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// Membership the snapshot holds for a group a later full read does not read
// is kept as it is: not reading is not seeing anyone leave.
func TestMemberReadsUnreadKept(t *testing.T) {
	srv, sample := memberOrg(t)
	st, tgt := memberEnv(t)
	e := sync.New(st, nil)
	ctx := context.Background()
	admins := sample.Groups["Whale Admins"]

	// An older idsync read every group's members.
	c := memberConn(t, srv, tgt, nil)
	c.Source = openOkta(t, srv, func(cfg *okta.Config) { cfg.Scope = c.Policy.Scope })
	if _, err := e.Run(ctx, c, sync.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := groupUsers(t, st, admins); !slices.Equal(got, []string{sample.Users["alice"]}) {
		t.Fatalf("Whale Admins in the snapshot = %v, want alice", got)
	}
	// Now a full read that does not read Whale Admins.
	c = memberConn(t, srv, tgt, nil)
	srv.ResetRequests()
	res, err := e.Run(ctx, c, sync.Options{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests(oktatest.BucketGroupMore); n != 1 {
		t.Errorf("member reads = %d, want 1", n)
	}
	if got := groupUsers(t, st, admins); !slices.Equal(got, []string{sample.Users["alice"]}) {
		t.Errorf("Whale Admins in the snapshot after a full read that did not read it = %v, want alice kept", got)
	}
	if len(res.Plan.Ops) != 0 {
		t.Errorf("plan = %v, want nothing", res.Plan.Ops)
	}
}

// A config edit that starts naming a group (a role rule) reads that group's
// members on the very next run, incremental or dry, before everyone is
// evaluated under the new policy.
func TestMemberReadsConfigEdit(t *testing.T) {
	for _, dry := range []bool{false, true} {
		name := "real"
		if dry {
			name = "dry run"
		}
		t.Run(name, func(t *testing.T) {
			srv, sample := memberOrg(t)
			st, tgt := memberEnv(t)
			e := sync.New(st, nil)
			ctx := context.Background()
			res, err := e.Run(ctx, memberConn(t, srv, tgt, nil), sync.Options{})
			if err != nil || res.Failed > 0 {
				t.Fatalf("first run: %v, %d failed", err, res.Failed)
			}
			admins := sample.Groups["Whale Admins"]
			if got := groupUsers(t, st, admins); len(got) != 0 {
				t.Fatalf("Whale Admins read while no policy named it: %v", got)
			}
			srv.Advance(10 * time.Minute) // the first read's overlap window is over
			rules := []sync.RoleRule{{Group: "Whale Admins", Role: "admin"}}
			srv.ResetRequests()
			res, err = e.Run(ctx, memberConn(t, srv, tgt, rules), sync.Options{DryRun: dry})
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.Requests(oktatest.BucketGroupMore); n != 1 {
				t.Errorf("member reads = %d, want 1 (Whale Admins)", n)
			}
			var roles []string
			for _, op := range res.Plan.Ops {
				if op.ObjectID == sample.Users["alice"] && op.Account != nil {
					roles = append(roles, op.Account.Role)
				}
			}
			if !slices.Equal(roles, []string{"admin"}) {
				t.Errorf("alice's role in the plan after the rule was added = %v, want [admin]; plan %v", roles, res.Plan.Ops)
			}
			if dry {
				return
			}
			// The next run reads nothing more: Whale Admins is current.
			srv.Advance(10 * time.Minute)
			srv.ResetRequests()
			if _, err := e.Run(ctx, memberConn(t, srv, tgt, rules), sync.Options{}); err != nil {
				t.Fatal(err)
			}
			if n := srv.Requests(oktatest.BucketGroupMore); n != 0 {
				t.Errorf("member reads on the run after = %d, want 0", n)
			}
		})
	}
}

// A role rule's group dropped from the config, changed while nobody read
// it (and through a full read that kept its old members), then named again:
// its stale members grant nothing; the run that names it again reads it.
func TestMemberReadsRuleDroppedThenRestored(t *testing.T) {
	srv, sample := memberOrg(t)
	st, tgt := memberEnv(t)
	e := sync.New(st, nil)
	ctx := context.Background()
	admins := sample.Groups["Whale Admins"]
	alice, bob := sample.Users["alice"], sample.Users["bob"]
	rules := []sync.RoleRule{{Group: "Whale Admins", Role: "admin"}}
	roleOf := func(res *sync.Result, id string) string {
		for _, op := range res.Plan.Ops {
			if op.ObjectID == id && op.Account != nil {
				return op.Account.Role
			}
		}
		return ""
	}
	run := func(rules []sync.RoleRule, opt sync.Options) *sync.Result {
		t.Helper()
		srv.Advance(10 * time.Minute)
		res, err := e.Run(ctx, memberConn(t, srv, tgt, rules), opt)
		if err != nil || res.Failed > 0 || res.Held != "" {
			t.Fatalf("run: %v, %d failed, held %q", err, res.Failed, res.Held)
		}
		return res
	}
	if res := run(rules, sync.Options{}); roleOf(res, alice) != "admin" {
		t.Fatalf("first run: alice is not admin: %v", res.Plan.Ops)
	}
	if res := run(nil, sync.Options{}); roleOf(res, alice) != "reader" {
		t.Fatalf("rule dropped: alice not demoted: %v", res.Plan.Ops)
	}
	srv.RemoveMember(admins, alice)
	srv.AddMember(admins, bob)
	run(nil, sync.Options{})
	run(nil, sync.Options{Full: true})
	if got := groupUsers(t, st, admins); !slices.Equal(got, []string{alice}) {
		t.Fatalf("Whale Admins while unread = %v, want alice's stale membership kept", got)
	}
	res := run(rules, sync.Options{})
	if r := roleOf(res, alice); r != "" {
		t.Errorf("rule restored: alice planned as %q from a stale membership", r)
	}
	if r := roleOf(res, bob); r != "admin" {
		t.Errorf("rule restored: bob planned as %q, want admin; plan %v", r, res.Plan.Ops)
	}
}
