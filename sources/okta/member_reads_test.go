package okta_test

import (
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources/okta"
	"github.com/idsync/idsync/sources/okta/oktatest"
)

// memberOrg is the sample org plus ten groups no policy here names, each
// with a few members.
func memberOrg(t *testing.T) (*oktatest.Server, oktatest.Sample) {
	t.Helper()
	srv := oktatest.NewServer()
	t.Cleanup(srv.Close)
	sample := srv.LoadSample()
	srv.AddIdleGroups(sample, 10)
	srv.Advance(10 * time.Minute)
	return srv, sample
}

// A full read reads members only of the groups the policy names: here the
// scope group, not Whale Admins, Everyone or the ten unused groups.
func TestMemberReadsOnlyReferenced(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limit   bool
		wantReq int // member list calls
	}{
		{"limited", true, 1},
		{"unlimited (library default)", false, 12}, // every group but BUILT_IN Everyone
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, sample := memberOrg(t)
			src := open(t, srv, func(c *okta.Config) { c.Scope.Groups = []string{"Whale Users"} })
			if tc.limit {
				src.LimitMemberReads([]string{})
			}
			srv.ResetRequests()
			snap := newSnapshot()
			snap.pull(t, src)
			if n := srv.Requests(oktatest.BucketGroupMore); n != tc.wantReq {
				t.Errorf("member reads = %d, want %d", n, tc.wantReq)
			}
			if len(snap.groups) != 13 {
				t.Errorf("groups = %d, want all 13 listed", len(snap.groups))
			}
			if n := len(snap.members[sample.Groups["Whale Users"]]); n != 6 {
				t.Errorf("Whale Users members = %d, want 6", n)
			}
			wantUnread := 1 // BUILT_IN Everyone
			if tc.limit {
				wantUnread = 12 // Whale Admins, Everyone, Unused A-J
			}
			if n := snap.kinds[idsync.ChangeMembersUnread]; n != wantUnread {
				t.Errorf("members-unread changes = %d, want %d", n, wantUnread)
			}
		})
	}
}

// App scope: the groups assigned to the app have their members read, the
// others not.
func TestMemberReadsAppGroups(t *testing.T) {
	srv, sample := memberOrg(t)
	src := open(t, srv, func(c *okta.Config) { c.Scope.AppID = sample.AppID })
	src.LimitMemberReads([]string{})
	srv.ResetRequests()
	snap := newSnapshot()
	snap.pull(t, src)
	if n := srv.Requests(oktatest.BucketGroupMore); n != 1 {
		t.Errorf("member reads = %d, want 1 (Whale Users, assigned to the app)", n)
	}
	if n := len(snap.members[sample.Groups["Whale Users"]]); n != 6 {
		t.Errorf("Whale Users members = %d, want 6", n)
	}
	// Assigning another group to the app reads its members on the next
	// (incremental) pull.
	admins := sample.Groups["Whale Admins"]
	srv.AssignGroup(sample.AppID, admins, "admin")
	srv.Advance(time.Minute)
	snap.pull(t, src)
	if got := snap.members[admins]; len(got) != 1 || !got[sample.Users["alice"]] {
		t.Errorf("Whale Admins members after its app assignment = %v, want alice", got)
	}
}
