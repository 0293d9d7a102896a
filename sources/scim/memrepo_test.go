package scim

import (
	"errors"
	"fmt"
	stdsync "sync"
	"testing"
)

func TestMemRepoContract(t *testing.T) {
	ctx := t.Context()
	m := NewMemRepo()
	put := func(tx RepoTx, r *Resource) {
		t.Helper()
		if err := tx.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	err := m.Update(ctx, func(tx RepoTx) error {
		put(tx, &Resource{Kind: KindUser, ID: "b", UserName: "Bob", Attrs: map[string]any{"userName": "Bob"}})
		put(tx, &Resource{Kind: KindUser, ID: "a", UserName: "alice", Attrs: map[string]any{"userName": "alice"}})
		put(tx, &Resource{Kind: KindGroup, ID: "g", Attrs: map[string]any{"displayName": "G", "members": []any{map[string]any{"value": "a"}, map[string]any{"value": "b"}}}})
		// Visible inside the transaction.
		if r, err := tx.ByUserName("BOB"); err != nil || r.ID != "b" {
			t.Errorf("tx.ByUserName = %v, %v", r, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := m.ByUserName(ctx, "ALICE"); err != nil || r.ID != "a" || r.Version != 1 || r.Created.IsZero() {
		t.Fatalf("ByUserName = %+v, %v", r, err)
	}
	var order []string
	_ = m.Scan(ctx, KindUser, func(r *Resource) bool { order = append(order, r.ID); return true })
	if fmt.Sprint(order) != "[a b]" {
		t.Errorf("Scan order %v, want ascending ids", order)
	}

	// A userName held by another user (in any case) is ErrConflict.
	err = m.Update(ctx, func(tx RepoTx) error {
		return tx.Put(&Resource{Kind: KindUser, ID: "c", UserName: "BOB", Attrs: map[string]any{}})
	})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate userName: %v", err)
	}
	// Swapping names inside one transaction works (the old one is freed).
	err = m.Update(ctx, func(tx RepoTx) error {
		put(tx, &Resource{Kind: KindUser, ID: "a", UserName: "tmp", Attrs: map[string]any{}})
		put(tx, &Resource{Kind: KindUser, ID: "b", UserName: "alice", Attrs: map[string]any{}})
		put(tx, &Resource{Kind: KindUser, ID: "a", UserName: "bob", Attrs: map[string]any{}})
		return nil
	})
	if err != nil {
		t.Fatalf("swap: %v", err)
	}
	for i := range 20 { // map order varies: look more than once
		m2 := NewMemRepo()
		_ = m2.Update(ctx, func(tx RepoTx) error {
			put(tx, &Resource{Kind: KindUser, ID: "a", UserName: "alice", Attrs: map[string]any{}})
			put(tx, &Resource{Kind: KindUser, ID: "b", UserName: "bob", Attrs: map[string]any{}})
			return nil
		})
		_ = m2.Update(ctx, func(tx RepoTx) error {
			put(tx, &Resource{Kind: KindUser, ID: "a", UserName: "tmp", Attrs: map[string]any{}})
			put(tx, &Resource{Kind: KindUser, ID: "b", UserName: "alice", Attrs: map[string]any{}})
			put(tx, &Resource{Kind: KindUser, ID: "a", UserName: "bob", Attrs: map[string]any{}})
			return nil
		})
		ra, errA := m2.ByUserName(ctx, "bob")
		rb, errB := m2.ByUserName(ctx, "alice")
		if errA != nil || errB != nil || ra.ID != "a" || rb.ID != "b" {
			t.Fatalf("try %d: after swapping names bob=%v alice=%v (%v %v)", i, ra, rb, errA, errB)
		}
	}
	if r, _ := m.ByUserName(ctx, "alice"); r.ID != "b" {
		t.Errorf("alice is %s after the swap", r.ID)
	}
	if _, err := m.ByUserName(ctx, "tmp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an intermediate name survived: %v", err)
	}

	// An Update that fails leaves nothing behind, not even its earlier Puts.
	boom := errors.New("boom")
	err = m.Update(ctx, func(tx RepoTx) error {
		put(tx, &Resource{Kind: KindUser, ID: "z", UserName: "zed", Attrs: map[string]any{}})
		if err := tx.Delete(KindUser, "a"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, KindUser, "z"); !errors.Is(err, ErrNotFound) {
		t.Error("a rolled-back Put landed")
	}
	if _, err := m.Get(ctx, KindUser, "a"); err != nil {
		t.Error("a rolled-back Delete landed")
	}

	// Deleting a user removes it from its groups (a new group version).
	g0, _ := m.Get(ctx, KindGroup, "g")
	if err := m.Update(ctx, func(tx RepoTx) error { return tx.Delete(KindUser, "a") }); err != nil {
		t.Fatal(err)
	}
	g, _ := m.Get(ctx, KindGroup, "g")
	if fmt.Sprint(g.Attrs["members"]) != "[map[value:b]]" || g.Version != g0.Version+1 {
		t.Errorf("group after deleting a member: %v (version %d → %d)", g.Attrs["members"], g0.Version, g.Version)
	}
	if err := m.Update(ctx, func(tx RepoTx) error { return tx.Delete(KindUser, "a") }); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	if _, err := m.ByUserName(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Error("a deleted user's name is still taken")
	}

	// Resources handed out are copies.
	r, _ := m.Get(ctx, KindGroup, "g")
	r.Attrs["displayName"] = "changed"
	if r2, _ := m.Get(ctx, KindGroup, "g"); r2.Attrs["displayName"] != "G" {
		t.Error("changing a returned resource changed the store")
	}
}

// Concurrent creates of one userName: exactly one wins (run with -race).
func TestMemRepoConcurrentUniqueness(t *testing.T) {
	c := newTClient(t)
	var wg stdsync.WaitGroup
	codes := make(chan int, 16)
	for range 16 {
		wg.Go(func() {
			codes <- c.do("POST", "/Users", `{"userName":"same@example.com"}`).status
		})
	}
	wg.Wait()
	close(codes)
	n := map[int]int{}
	for code := range codes {
		n[code]++
	}
	if n[201] != 1 || n[409] != 15 {
		t.Errorf("statuses %v, want one 201 and fifteen 409", n)
	}
}
