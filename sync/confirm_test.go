package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	stdsync "sync"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
)

// confirmingSource is a fakeSource whose full reads miss the users in
// hidden (as a user deleted and restored during an Entra full read is
// missed) and that confirms users by id from its directory
// (sources.Confirmer).
type confirmingSource struct {
	*fakeSource
	mu     stdsync.Mutex
	hidden map[string]bool
	asked  [][]string // the ids of each Confirm call
	// fail, when set, is Confirm's answer for the id (after the ids before
	// it were emitted); wrong, when set, rewrites the answer.
	fail  func(id string) error
	wrong func([]idsync.Change) []idsync.Change
}

var _ sources.Confirmer = (*confirmingSource)(nil)

func (s *confirmingSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	s.mu.Lock()
	hidden := s.hidden
	s.mu.Unlock()
	return s.fakeSource.Pull(ctx, cursor, func(page []idsync.Change) error {
		if cursor != "" {
			return emit(page)
		}
		kept := slices.DeleteFunc(slices.Clone(page), func(c idsync.Change) bool {
			return (c.Kind == idsync.ChangeUser && hidden[c.User.ID]) || (c.Kind == idsync.ChangeUserRemoved && hidden[c.ID])
		})
		if len(kept) == 0 {
			return nil
		}
		return emit(kept)
	})
}

func (s *confirmingSource) Confirm(ctx context.Context, ids []string, emit func([]idsync.Change) error) error {
	s.mu.Lock()
	s.asked = append(s.asked, slices.Clone(ids))
	s.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), 7)
		var page []idsync.Change
		for _, id := range ids[:n] {
			if s.fail != nil {
				if err := s.fail(id); err != nil {
					if len(page) > 0 {
						emit(page)
					}
					return err
				}
			}
			s.fakeSource.mu.Lock()
			u, ok := s.users[id]
			s.fakeSource.mu.Unlock()
			switch {
			case !ok:
				page = append(page, idsync.UserRemovedChange(id, idsync.RemovalHard))
			case u.Removed != "":
				page = append(page, idsync.UserRemovedChange(id, u.Removed))
			default:
				page = append(page, idsync.UserChange(u))
			}
		}
		if s.wrong != nil {
			page = s.wrong(page)
		}
		if err := emit(page); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// confirmHarness: 300 users, all applied.
func confirmHarness(t *testing.T) (*harness, *confirmingSource) {
	h := newHarness(t, Policy{})
	src := &confirmingSource{fakeSource: h.src, hidden: map[string]bool{}}
	h.conn.Source = src
	for i := range 300 {
		h.src.user(fmt.Sprintf("u%03d", i), fmt.Sprintf("user%03d", i))
	}
	if res := h.run(Options{}); len(res.Plan.Ops) != 300 {
		t.Fatalf("first run planned %d ops", len(res.Plan.Ops))
	}
	return h, src
}

// A full read that misses many users: each is confirmed by id, and only
// the ones the source says are gone are deleted. 200 users are missed by
// the read: 120 live (10 of them changed meanwhile), 40 in the recycle bin,
// 40 gone; 20 more are gone and missed as they should be.
func TestFullReadConfirmsManyUnmentionedUsers(t *testing.T) {
	h, src := confirmHarness(t)
	var want []string
	for i := range 220 {
		id := fmt.Sprintf("u%03d", i)
		if i < 200 {
			src.hidden[id] = true
		}
		switch {
		case i < 10:
			h.src.user(id, fmt.Sprintf("user%03d", i), func(u *idsync.User) { u.Title = "Engineer" })
			want = append(want, fmt.Sprintf("update user%03d@acme.test", i))
		case i < 120:
		case i < 160:
			h.src.record(idsync.UserRemovedChange(id, idsync.RemovalSoft))
			want = append(want, fmt.Sprintf("disable user%03d@acme.test", i))
		default:
			h.src.record(idsync.UserRemovedChange(id, idsync.RemovalHard))
			want = append(want, fmt.Sprintf("delete user%03d@acme.test", i))
		}
	}
	res := h.run(Options{Full: true})
	got := ops(res.Plan)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("plan after a full read that missed 200 users:\n got %d ops %q\nwant %d ops %q", len(got), got, len(want), want)
	}
	// Asked once, about exactly the users the read did not mention (those
	// it saw, and none twice).
	if len(src.asked) != 1 || len(src.asked[0]) != 220 {
		t.Fatalf("Confirm calls: %d, asked about %d users", len(src.asked), len(src.asked[0]))
	}
	for _, id := range src.asked[0] {
		if id >= "u220" {
			t.Fatalf("asked about %s, which the read mentioned", id)
		}
	}
	if got := len(h.tgt.byUserName()); got != 300-60 {
		t.Fatalf("%d accounts left, want 240", got)
	}
	// Nothing left to confirm: the next full read asks about nobody.
	clear(src.hidden)
	res = h.run(Options{Full: true})
	if len(res.Plan.Ops) != 0 || len(src.asked) != 1 {
		t.Fatalf("second full read: plan %q, %d Confirm calls", ops(res.Plan), len(src.asked))
	}
}

// A confirmation that fails, or leaves a user unanswered, fails the pull:
// nothing swept, nothing planned, the cursor kept; the next run converges.
func TestFailedConfirmationSweepsNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*confirmingSource)
		error string
	}{
		{"error", func(s *confirmingSource) {
			s.fail = func(id string) error {
				if id == "u150" {
					return errBoom
				}
				return nil
			}
		}, "boom"},
		{"unanswered", func(s *confirmingSource) {
			s.wrong = func(p []idsync.Change) []idsync.Change { return p[:len(p)-1] }
		}, "did not say what became of"},
		{"answered twice", func(s *confirmingSource) {
			s.wrong = func(p []idsync.Change) []idsync.Change { return append(p, p[0]) }
		}, "already confirmed"},
		{"another user", func(s *confirmingSource) {
			s.wrong = func(p []idsync.Change) []idsync.Change {
				return append(p, idsync.UserRemovedChange("u299", idsync.RemovalHard))
			}
		}, "not asked about"},
		{"not a user change", func(s *confirmingSource) {
			s.wrong = func(p []idsync.Change) []idsync.Change {
				return append(p, idsync.GroupChange(idsync.Group{ID: "g1", Name: "x"}))
			}
		}, "answered a confirmation with a group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, src := confirmHarness(t)
			before := h.cursor()
			for i := 100; i < 200; i++ {
				id := fmt.Sprintf("u%03d", i)
				src.hidden[id] = true
				h.src.record(idsync.UserRemovedChange(id, idsync.RemovalHard))
			}
			tc.set(src)
			calls := h.tgt.calls
			res, err := h.engine.Run(context.Background(), h.conn, Options{Full: true})
			if err == nil || !strings.Contains(err.Error(), tc.error) || !strings.Contains(err.Error(), "nothing swept") {
				t.Fatalf("run error %v, want %q and nothing swept", err, tc.error)
			}
			if tc.name == "error" && !errors.Is(err, errBoom) {
				t.Fatalf("the source's error is not wrapped: %v", err)
			}
			if len(res.Plan.Ops) != 0 || h.tgt.calls != calls || h.cursor() != before {
				t.Fatalf("a failed confirmation planned %q, made %d target calls, cursor %+v (was %+v)", ops(res.Plan), h.tgt.calls-calls, h.cursor(), before)
			}
			src.fail, src.wrong = nil, nil
			if res := h.run(Options{Full: true}); len(res.Plan.Ops) != 100 {
				t.Fatalf("the next full read planned %d ops, want the 100 deletes", len(res.Plan.Ops))
			}
		})
	}
}

// A dry run's full read confirms too: it does not show a delete the real
// run would not do.
func TestDryRunConfirmsUnmentionedUsers(t *testing.T) {
	h, src := confirmHarness(t)
	src.hidden["u007"] = true
	h.src.record(idsync.UserRemovedChange("u008", idsync.RemovalHard))
	res := h.run(Options{Full: true, DryRun: true})
	if got := ops(res.Plan); !slices.Equal(got, []string{"delete user008@acme.test"}) {
		t.Fatalf("dry run plan %q, want only user008's delete", got)
	}
	if len(src.asked) != 1 || !slices.Equal(src.asked[0], []string{"u007", "u008"}) {
		t.Fatalf("dry run asked %q", src.asked)
	}
}
