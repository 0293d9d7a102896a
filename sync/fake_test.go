package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/state/pgtest"
	"github.com/idsync/idsync/targets"
)

// fakeSource is an in-memory directory with a change log. A full read emits
// the current directory; an incremental read emits the log since the cursor
// (a log position). Function fields inject faults.
type fakeSource struct {
	mu       stdsync.Mutex
	users    map[string]idsync.User
	groups   map[string]idsync.Group
	members  map[[2]string]idsync.MemberKind
	assigned map[[2]string]idsync.MemberKind // principal, role
	log      []idsync.Change
	pageSize int

	// failPage, when it returns an error for page k (1-based), fails the pull there.
	failPage func(k int, full bool) error
	// expired makes an incremental pull answer ErrCursorExpired.
	expired bool
	pulls   []string // cursors asked for
}

func newFakeSource() *fakeSource {
	return &fakeSource{users: map[string]idsync.User{}, groups: map[string]idsync.Group{},
		members: map[[2]string]idsync.MemberKind{}, assigned: map[[2]string]idsync.MemberKind{}, pageSize: 3}
}

func (s *fakeSource) record(c idsync.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.Kind {
	case idsync.ChangeUser:
		s.users[c.User.ID] = *c.User
	case idsync.ChangeUserRemoved:
		if c.Removal == idsync.RemovalHard {
			delete(s.users, c.ID)
		} else {
			u := s.users[c.ID]
			u.Removed = c.Removal
			s.users[c.ID] = u
		}
	case idsync.ChangeGroup:
		s.groups[c.Group.ID] = *c.Group
	case idsync.ChangeGroupRemoved:
		delete(s.groups, c.ID)
		for k := range s.members {
			if k[0] == c.ID || k[1] == c.ID {
				delete(s.members, k)
			}
		}
	case idsync.ChangeMemberAdded:
		s.members[[2]string{c.GroupID, c.MemberID}] = c.MemberKind
	case idsync.ChangeMemberRemoved:
		delete(s.members, [2]string{c.GroupID, c.MemberID})
	case idsync.ChangeAssigned:
		s.assigned[[2]string{c.Assignment.PrincipalID, c.Assignment.Role}] = c.Assignment.PrincipalKind
	case idsync.ChangeUnassigned:
		for k := range s.assigned {
			if k[0] == c.ID {
				delete(s.assigned, k)
			}
		}
	}
	s.log = append(s.log, c)
}

func (s *fakeSource) user(id, name string, mods ...func(*idsync.User)) {
	u := idsync.User{ID: id, UserName: name + "@acme.test", Email: name + "@acme.test", GivenName: name, FamilyName: "Test",
		Status: idsync.StatusActive}
	for _, m := range mods {
		m(&u)
	}
	s.record(idsync.UserChange(u))
}

func (s *fakeSource) group(id, name string, members ...string) {
	s.record(idsync.GroupChange(idsync.Group{ID: id, Name: name}))
	for _, m := range members {
		kind := idsync.MemberUser
		if _, ok := s.groups[m]; ok {
			kind = idsync.MemberGroup
		}
		s.record(idsync.MemberAddedChange(id, m, kind))
	}
}

// snapshot is every change a full read reports, in a stable order.
func (s *fakeSource) snapshot() []idsync.Change {
	var out []idsync.Change
	for _, id := range sortedKeys(s.users) {
		u := s.users[id]
		if u.Removed != "" { // like the Entra source: the recycle bin as soft removals (sources.Source)
			out = append(out, idsync.UserRemovedChange(id, u.Removed))
			continue
		}
		out = append(out, idsync.UserChange(u))
	}
	for _, id := range sortedKeys(s.groups) {
		out = append(out, idsync.GroupChange(s.groups[id]))
	}
	for _, k := range sortedKeys(s.members) {
		out = append(out, idsync.MemberAddedChange(k[0], k[1], s.members[k]))
	}
	for _, k := range sortedKeys(s.assigned) {
		out = append(out, idsync.AssignedChange(idsync.Assignment{PrincipalID: k[0], Role: k[1], PrincipalKind: s.assigned[k]}))
	}
	return out
}

func sortedKeys[K interface{ comparable }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return cmpKey(a, b) })
	return keys
}

func cmpKey[K comparable](a, b K) int {
	sa, sb := fmt.Sprint(a), fmt.Sprint(b)
	switch {
	case sa < sb:
		return -1
	case sa > sb:
		return 1
	}
	return 0
}

func (s *fakeSource) Pull(ctx context.Context, cursor string, emit func([]idsync.Change) error) (string, bool, error) {
	s.mu.Lock()
	s.pulls = append(s.pulls, cursor)
	full := cursor == ""
	var changes []idsync.Change
	if full {
		changes = s.snapshot()
	} else {
		if s.expired {
			s.mu.Unlock()
			return "", false, fmt.Errorf("fake: %w", sources.ErrCursorExpired)
		}
		pos, err := strconv.Atoi(cursor)
		if err != nil {
			s.mu.Unlock()
			return "", false, err
		}
		changes = slices.Clone(s.log[pos:])
	}
	next := strconv.Itoa(len(s.log))
	failPage := s.failPage
	s.mu.Unlock()
	for k := 1; len(changes) > 0; k++ {
		if failPage != nil {
			if err := failPage(k, full); err != nil {
				return "", false, err
			}
		}
		n := min(s.pageSize, len(changes))
		if err := emit(changes[:n]); err != nil {
			return "", false, err
		}
		changes = changes[n:]
	}
	return next, full, nil
}

// fakeTarget is an in-memory workspace. fail, when set, decides an op's fate.
type fakeTarget struct {
	mu       stdsync.Mutex
	accounts map[string]idsync.Account // by target id
	groups   map[string][]string       // group target id → member target ids
	applied  map[string]int            // op id → times applied
	calls    int
	nextID   int
	fail     func(op idsync.Op, call int) error
	// after is called after a successful apply (tests cancel a run there).
	after func(n int)
	conc  int
}

func newFakeTarget() *fakeTarget {
	return &fakeTarget{accounts: map[string]idsync.Account{}, groups: map[string][]string{}, applied: map[string]int{}}
}

func (t *fakeTarget) Concurrency() int { return max(t.conc, 1) }

func (t *fakeTarget) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	t.mu.Lock()
	t.calls++
	call := t.calls
	fail := t.fail
	t.mu.Unlock()
	if fail != nil {
		if err := fail(op, call); err != nil {
			return idsync.Applied{}, err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := op.TargetID
	switch op.Kind {
	case idsync.OpCreate:
		for tid, a := range t.accounts { // adopt, like a real target
			if a.ExternalID == op.ObjectID {
				id = tid
			}
		}
		if id == "" {
			t.nextID++
			id = fmt.Sprintf("t%d", t.nextID)
		}
		t.accounts[id] = *op.Account
	case idsync.OpDelete:
		delete(t.accounts, id)
	case idsync.OpGroupCreate:
		t.nextID++
		id = fmt.Sprintf("g%d", t.nextID)
		t.groups[id] = nil
	case idsync.OpGroupDelete:
		delete(t.groups, id)
	case idsync.OpGroupUpdate:
	case idsync.OpMemberAdd:
		for _, m := range op.Members {
			t.groups[id] = append(t.groups[id], m.TargetID)
		}
	case idsync.OpMemberRemove:
		for _, m := range op.Members {
			t.groups[id] = slices.DeleteFunc(t.groups[id], func(s string) bool { return s == m.TargetID })
		}
	default:
		if _, ok := t.accounts[id]; !ok {
			return idsync.Applied{}, fmt.Errorf("fake: no account %q", id)
		}
		t.accounts[id] = *op.Account
	}
	t.applied[op.ID]++
	if t.after != nil {
		t.after(len(t.applied))
	}
	return idsync.Applied{TargetID: id}, nil
}

// byUserName returns the workspace accounts keyed by userName.
func (t *fakeTarget) byUserName() map[string]idsync.Account {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]idsync.Account{}
	for _, a := range t.accounts {
		out[a.UserName] = a
	}
	return out
}

var (
	_ sources.Source  = (*fakeSource)(nil)
	_ targets.Target  = (*fakeTarget)(nil)
	_ targets.Limiter = (*fakeTarget)(nil)
)

// harness is an engine on a temp-file database with a fake source and target.
type harness struct {
	t      testing.TB
	path   string
	store  *state.Store
	engine *Engine
	src    *fakeSource
	tgt    *fakeTarget
	conn   *Connection
	sleeps []time.Duration
}

func newHarness(t testing.TB, p Policy) *harness {
	t.Helper()
	h := &harness{t: t, path: t.TempDir() + "/idsync.db", src: newFakeSource(), tgt: newFakeTarget()}
	if p.Deprovision == (Deprovision{}) {
		p.Deprovision = DefaultDeprovision
	}
	h.conn = &Connection{Name: "acme", SourceType: "entra", Source: h.src, Target: h.tgt, Policy: p}
	h.open()
	return h
}

// open (re)opens the engine on the harness's database file, as a restart does.
func (h *harness) open() {
	h.t.Helper()
	if h.store != nil {
		h.store.Close()
	}
	st, err := state.Open(context.Background(), pgtest.Loc(h.t, h.path))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { st.Close() })
	h.store = st
	h.engine = New(st, nil)
	h.engine.Backoff = targets.Backoff{Attempts: 3, Sleep: func(ctx context.Context, d time.Duration) error {
		h.sleeps = append(h.sleeps, d)
		return ctx.Err()
	}}
}

func (h *harness) run(opt Options) *Result {
	h.t.Helper()
	res, err := h.engine.Run(context.Background(), h.conn, opt)
	if err != nil {
		h.t.Fatalf("run: %v", err)
	}
	return res
}

// ops renders a plan as "kind name" lines for comparison.
func ops(p idsync.Plan) []string {
	var out []string
	for _, o := range p.Ops {
		out = append(out, string(o.Kind)+" "+o.Name())
	}
	return out
}

func (h *harness) applied() map[string]state.AppliedUser {
	h.t.Helper()
	var out map[string]state.AppliedUser
	if err := h.store.View(context.Background(), func(tx *state.Tx) (err error) {
		out, err = tx.AppliedUsers("acme", nil)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) cursor() state.Cursor {
	h.t.Helper()
	var c state.Cursor
	if err := h.store.View(context.Background(), func(tx *state.Tx) (err error) {
		c, err = tx.Cursor("acme")
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return c
}

var errBoom = errors.New("boom")
