package scim

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/state/pgtest"
)

// The StateRepo tests again on a PostgreSQL state, where the repo keeps no
// copy and reads the database (other daemons may write it).
func TestStateRepoOnPostgres(t *testing.T) {
	if !pgtest.Available(t) {
		t.Skipf("PostgreSQL tests skipped: set %s", pgtest.Env)
	}
	stateLoc = func(t *testing.T) string { return pgtest.DSN(t) }
	defer func() { stateLoc = func(t *testing.T) string { return t.TempDir() + "/idsync.db" } }()
	for name, f := range map[string]func(*testing.T){
		"WritesTheSnapshot":  TestStateRepoWritesTheSnapshot,
		"ScanPages":          TestStateRepoScanPages,
		"ReadsFollowWrites":  TestStateRepoReadsFollowWrites,
		"TxSeesItsOwnWrites": TestStateRepoTxSeesItsOwnWrites,
	} {
		t.Run(name, f)
	}
}

// stateLoc is where openStateRepo's state is: a temp-file SQLite, or a
// PostgreSQL schema (TestStateRepoOnPostgres: a shared store, no copy).
var stateLoc = func(t *testing.T) string { return t.TempDir() + "/idsync.db" }

func openStateRepo(t *testing.T, conn string) (*StateRepo, *state.Store) {
	t.Helper()
	st, err := state.Open(context.Background(), stateLoc(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return NewStateRepo(st, conn), st
}

// snapshotOf reads the connection's snapshot users, dirty marks, groups of
// each user and assignments.
type snapshotView struct {
	users       map[string]idsync.User
	dirty       []string
	groups      map[string][]string
	assignments map[string][]string
	groupNames  map[string]string
}

func readSnapshot(t *testing.T, st *state.Store, conn string) snapshotView {
	t.Helper()
	var v snapshotView
	err := st.View(context.Background(), func(tx *state.Tx) error {
		all, err := tx.AllUsers(conn)
		if err != nil {
			return err
		}
		v.users = map[string]idsync.User{}
		var ids []string
		for _, u := range all {
			v.users[u.ID] = u
			ids = append(ids, u.ID)
		}
		if v.dirty, _, err = tx.Dirty(conn); err != nil {
			return err
		}
		if v.groups, err = tx.UserGroups(conn, ids); err != nil {
			return err
		}
		if v.assignments, err = tx.Assignments(conn, ids); err != nil {
			return err
		}
		gs, err := tx.Groups(conn)
		v.groupNames = map[string]string{}
		for _, g := range gs {
			v.groupNames[g.ID] = g.Name
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func clearDirty(t *testing.T, st *state.Store, conn string) {
	t.Helper()
	if err := st.Update(context.Background(), func(tx *state.Tx) error { return tx.ClearDirty(conn, nil, nil, true) }); err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, r Repo, res ...*Resource) {
	t.Helper()
	err := r.Update(context.Background(), func(tx RepoTx) error {
		for _, x := range res {
			if err := tx.Put(x); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStateRepoWritesTheSnapshot(t *testing.T) {
	ctx := context.Background()
	repo, st := openStateRepo(t, "initech")
	alice := &Resource{Kind: KindUser, ID: "u-alice", UserName: "Alice@Initech.test", ExternalID: "ext-1", Attrs: map[string]any{
		"userName": "Alice@Initech.test",
		"active":   "True", // Entra's default dialect
		"name":     map[string]any{"givenName": "Alice", "familyName": "Adams"},
		"emails": []any{
			map[string]any{"type": "home", "value": "alice@home.test"},
			map[string]any{"type": "work", "value": "alice@initech.test", "primary": true},
		},
		"title":           "Engineer",
		snapEnterpriseURN: map[string]any{"employeeNumber": "42", "department": "R&D"},
		"roles":           []any{map[string]any{"value": "Editor", "primary": "True"}},
	}}
	bob := &Resource{Kind: KindUser, ID: "u-bob", UserName: "bob@initech.test", ExternalID: "ext-1", Attrs: map[string]any{
		"userName": "bob@initech.test", "active": true,
	}}
	put(t, repo, alice, bob)
	if alice.Version != 1 || alice.Created.IsZero() {
		t.Fatalf("put did not set version/dates: %+v", alice)
	}
	v := readSnapshot(t, st, "initech")
	want := idsync.User{ID: "u-alice", UserName: "Alice@Initech.test", Email: "alice@initech.test", GivenName: "Alice", FamilyName: "Adams",
		DisplayName: "Alice Adams", EmployeeID: "42", Title: "Engineer", Department: "R&D", Status: idsync.StatusActive}
	if v.users["u-alice"] != want {
		t.Errorf("alice in the snapshot:\n got %+v\nwant %+v", v.users["u-alice"], want)
	}
	if !slices.Equal(v.dirty, []string{"u-alice", "u-bob"}) {
		t.Errorf("dirty %v", v.dirty)
	}
	if !slices.Equal(v.assignments["u-alice"], []string{"Editor"}) {
		t.Errorf("alice's assignments %v", v.assignments)
	}

	// Served back as stored.
	got, err := repo.ByUserName(ctx, "ALICE@initech.TEST")
	if err != nil || got.ID != "u-alice" || got.Version != 1 || got.Attrs["title"] != "Engineer" || got.ExternalID != "ext-1" {
		t.Fatalf("by userName: %+v %v", got, err)
	}

	t.Run("a group with members, a nested group", func(t *testing.T) {
		clearDirty(t, st, "initech")
		inner := &Resource{Kind: KindGroup, ID: "g-inner", Attrs: map[string]any{"displayName": "Inner"}}
		sales := &Resource{Kind: KindGroup, ID: "g-sales", Attrs: map[string]any{"displayName": "Sales", "members": []any{
			map[string]any{"value": "u-alice"}, map[string]any{"value": "g-inner"}, map[string]any{"value": "u-bob", "display": "Bob"},
		}}}
		put(t, repo, inner, sales)
		v := readSnapshot(t, st, "initech")
		if v.groupNames["g-sales"] != "Sales" || !slices.Equal(v.groups["u-alice"], []string{"g-sales"}) || !slices.Equal(v.groups["u-bob"], []string{"g-sales"}) {
			t.Fatalf("groups %v names %v", v.groups, v.groupNames)
		}
		var edges [][2]string
		st.View(ctx, func(tx *state.Tx) (err error) { edges, err = tx.GroupEdges("initech"); return err })
		if len(edges) != 1 {
			t.Errorf("nested group edges %v", edges)
		}
		// Removing a member from the group.
		clearDirty(t, st, "initech")
		sales.Attrs["members"] = []any{map[string]any{"value": "u-alice"}, map[string]any{"value": "g-inner"}}
		put(t, repo, sales)
		v = readSnapshot(t, st, "initech")
		if len(v.groups["u-bob"]) != 0 || !slices.Equal(v.dirty, []string{"u-bob"}) {
			t.Fatalf("bob removed: groups %v dirty %v", v.groups, v.dirty)
		}
	})

	t.Run("soft delete is disabled", func(t *testing.T) {
		clearDirty(t, st, "initech")
		bob.Attrs["active"] = "False"
		put(t, repo, bob)
		v := readSnapshot(t, st, "initech")
		if v.users["u-bob"].Status != idsync.StatusDisabled || v.users["u-bob"].Removed != "" || !slices.Equal(v.dirty, []string{"u-bob"}) {
			t.Fatalf("bob %+v dirty %v", v.users["u-bob"], v.dirty)
		}
		// The same write again changes nothing and marks nothing.
		clearDirty(t, st, "initech")
		put(t, repo, bob)
		if v := readSnapshot(t, st, "initech"); len(v.dirty) != 0 || bob.Version != 3 {
			t.Fatalf("unchanged write: dirty %v version %d", v.dirty, bob.Version)
		}
	})

	t.Run("a duplicate userName writes nothing", func(t *testing.T) {
		clearDirty(t, st, "initech")
		err := repo.Update(ctx, func(tx RepoTx) error {
			if err := tx.Put(&Resource{Kind: KindUser, ID: "u-carol", UserName: "carol@initech.test", Attrs: map[string]any{}}); err != nil {
				return err
			}
			return tx.Put(&Resource{Kind: KindUser, ID: "u-dave", UserName: "BOB@initech.test", Attrs: map[string]any{}})
		})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate: %v", err)
		}
		if _, err := repo.Get(ctx, KindUser, "u-carol"); !errors.Is(err, ErrNotFound) {
			t.Errorf("carol was written by a failed transaction: %v", err)
		}
		if v := readSnapshot(t, st, "initech"); len(v.dirty) != 0 || len(v.users) != 2 {
			t.Errorf("snapshot changed: %v %v", v.users, v.dirty)
		}
	})

	t.Run("DELETE is a hard removal and leaves the groups", func(t *testing.T) {
		clearDirty(t, st, "initech")
		if err := repo.Update(ctx, func(tx RepoTx) error { return tx.Delete(KindUser, "u-alice") }); err != nil {
			t.Fatal(err)
		}
		if err := repo.Update(ctx, func(tx RepoTx) error { return tx.Delete(KindUser, "u-alice") }); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		v := readSnapshot(t, st, "initech")
		if v.users["u-alice"].Removed != idsync.RemovalHard || len(v.groups["u-alice"]) != 0 || !slices.Contains(v.dirty, "u-alice") {
			t.Fatalf("alice %+v groups %v dirty %v", v.users["u-alice"], v.groups, v.dirty)
		}
		sales, err := repo.Get(ctx, KindGroup, "g-sales")
		if err != nil {
			t.Fatal(err)
		}
		if ms := snapMembers(sales); len(ms) != 1 || ms[0].id != "g-inner" || sales.Version != 3 {
			t.Errorf("sales as served: %+v version %d", ms, sales.Version)
		}
		var n []string
		repo.Scan(ctx, KindUser, func(r *Resource) bool { n = append(n, r.ID); return true })
		if !slices.Equal(n, []string{"u-bob"}) {
			t.Errorf("scan %v", n)
		}
	})

	t.Run("a group DELETE leaves the groups it was in", func(t *testing.T) {
		if err := repo.Update(ctx, func(tx RepoTx) error { return tx.Delete(KindGroup, "g-inner") }); err != nil {
			t.Fatal(err)
		}
		if v := readSnapshot(t, st, "initech"); v.groupNames["g-inner"] != "" {
			t.Fatalf("groups %v", v.groupNames)
		}
		sales, err := repo.Get(ctx, KindGroup, "g-sales")
		if err != nil {
			t.Fatal(err)
		}
		if ms := snapMembers(sales); len(ms) != 0 {
			t.Errorf("sales still lists %+v", ms)
		}
	})
}

func TestStateRepoScanPages(t *testing.T) {
	repo, _ := openStateRepo(t, "a")
	var rs []*Resource
	for i := range 2*snapScanPage + 3 {
		rs = append(rs, &Resource{Kind: KindGroup, ID: string(rune('a'+i/676)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26)), Attrs: map[string]any{"displayName": "g"}})
	}
	put(t, repo, rs...)
	var n int
	last := ""
	repo.Scan(context.Background(), KindGroup, func(r *Resource) bool {
		if r.ID <= last {
			t.Fatalf("out of order: %s after %s", r.ID, last)
		}
		last = r.ID
		n++
		return n < snapScanPage+10
	})
	if n != snapScanPage+10 {
		t.Fatalf("scan stopped after %d", n)
	}
	n = 0
	repo.Scan(context.Background(), KindGroup, func(r *Resource) bool { n++; return true })
	if n != len(rs) {
		t.Fatalf("scan saw %d of %d", n, len(rs))
	}
}

// TestStateRepoReadsFollowWrites: reads served from memory see every
// committed write (a rename frees the old userName), and a second repo on
// the same database (a restarted daemon) reads the same.
func TestStateRepoReadsFollowWrites(t *testing.T) {
	ctx := context.Background()
	repo, st := openStateRepo(t, "a")
	u := &Resource{Kind: KindUser, ID: "u1", UserName: "Old@a.test", Attrs: map[string]any{"userName": "Old@a.test"}}
	put(t, repo, u)
	if _, err := repo.ByUserName(ctx, "old@A.test"); err != nil {
		t.Fatal(err)
	}
	u.UserName, u.Attrs["userName"] = "new@a.test", "new@a.test"
	put(t, repo, u)
	if _, err := repo.ByUserName(ctx, "old@a.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old name after the rename: %v", err)
	}
	put(t, repo, &Resource{Kind: KindUser, ID: "u2", UserName: "OLD@a.test", Attrs: map[string]any{}})
	for _, r := range []*StateRepo{repo, NewStateRepo(st, "a")} {
		got, err := r.ByUserName(ctx, "NEW@a.test")
		if err != nil || got.ID != "u1" || got.Version != 2 || got.Attrs["userName"] != "new@a.test" {
			t.Errorf("new name: %+v %v", got, err)
		}
		if got, err := r.ByUserName(ctx, "old@a.test"); err != nil || got.ID != "u2" {
			t.Errorf("old name taken again: %+v %v", got, err)
		}
	}
}

// TestStateRepoTxSeesItsOwnWrites: reads inside a write transaction see
// its earlier writes (names swapped within one transaction), and a failed
// transaction leaves the reads as they were.
func TestStateRepoTxSeesItsOwnWrites(t *testing.T) {
	ctx := context.Background()
	repo, _ := openStateRepo(t, "a")
	put(t, repo, &Resource{Kind: KindUser, ID: "a", UserName: "alice", Attrs: map[string]any{}},
		&Resource{Kind: KindUser, ID: "b", UserName: "Bob", Attrs: map[string]any{}})
	err := repo.Update(ctx, func(tx RepoTx) error {
		if r, err := tx.ByUserName("BOB"); err != nil || r.ID != "b" {
			t.Errorf("tx.ByUserName(BOB) = %v, %v", r, err)
		}
		for _, r := range []*Resource{{Kind: KindUser, ID: "a", UserName: "tmp"}, {Kind: KindUser, ID: "b", UserName: "alice"}, {Kind: KindUser, ID: "a", UserName: "bob"}} {
			r.Attrs = map[string]any{}
			if err := tx.Put(r); err != nil {
				return err
			}
		}
		if r, err := tx.ByUserName("alice"); err != nil || r.ID != "b" {
			t.Errorf("in the transaction, alice = %v, %v", r, err)
		}
		if _, err := tx.ByUserName("tmp"); !errors.Is(err, ErrNotFound) {
			t.Errorf("in the transaction, tmp = %v", err)
		}
		if r, err := tx.Get(KindUser, "a"); err != nil || r.UserName != "bob" || r.Version != 3 {
			t.Errorf("in the transaction, a = %+v, %v", r, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("swap: %v", err)
	}
	failed := errors.New("no")
	err = repo.Update(ctx, func(tx RepoTx) error {
		if err := tx.Delete(KindUser, "a"); err != nil {
			return err
		}
		if _, err := tx.Get(KindUser, "a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted in the transaction: %v", err)
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatal(err)
	}
	for name, id := range map[string]string{"BOB": "a", "Alice": "b"} {
		if r, err := repo.ByUserName(ctx, name); err != nil || r.ID != id {
			t.Errorf("after the swap, %s = %+v, %v", name, r, err)
		}
	}
}

// Two daemons' repos on one PostgreSQL state write the same user at once:
// the push lock orders them, each write builds on the other's (no lost
// update: the version counts every write), and each repo reads the last.
func TestStateReposOfTwoDaemons(t *testing.T) {
	if !pgtest.Available(t) {
		t.Skipf("PostgreSQL tests skipped: set %s", pgtest.Env)
	}
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	var repos [2]*StateRepo
	for i := range repos {
		st, err := state.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		repos[i] = NewStateRepo(st, "a")
	}
	put(t, repos[0], &Resource{Kind: KindUser, ID: "u1", UserName: "u1@a.test", Attrs: map[string]any{"userName": "u1@a.test", "n": 0.0}})
	const each = 25
	errs := make(chan error, 2*each)
	for _, repo := range repos {
		go func() {
			for range each {
				errs <- repo.Update(ctx, func(tx RepoTx) error {
					u, err := tx.Get(KindUser, "u1")
					if err != nil {
						return err
					}
					u.Attrs["n"] = u.Attrs["n"].(float64) + 1
					return tx.Put(u)
				})
			}
		}()
	}
	for range 2 * each {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, repo := range repos {
		u, err := repo.Get(ctx, KindUser, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if u.Version != 2*each+1 || u.Attrs["n"] != float64(2*each) {
			t.Errorf("repo %d reads version %d, n %v; want %d, %d", i, u.Version, u.Attrs["n"], 2*each+1, 2*each)
		}
	}
}
