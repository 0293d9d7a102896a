package scim

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Writes that queue while the database is busy are committed as one group;
// each keeps its own outcome: a taken userName fails alone (exactly one of
// two racing creates wins), a request that wrote and then failed — or
// panicked — leaves nothing, and the others land, durably (a fresh repo
// reading the database sees them).
func TestGroupCommitKeepsEachWriteAlone(t *testing.T) {
	ctx := context.Background()
	repo, st := openStateRepo(t, "c")
	user := func(id, name string) *Resource {
		return &Resource{Kind: KindUser, ID: id, UserName: name, Attrs: map[string]any{"userName": name}}
	}
	create := func(res *Resource) func(RepoTx) error {
		return func(tx RepoTx) error {
			if _, err := tx.ByUserName(res.UserName); err == nil {
				return ErrConflict
			}
			return tx.Put(res)
		}
	}
	boom := errors.New("boom")
	writes := []func(RepoTx) error{
		create(user("u0", "zero@x")),
		create(user("u1", "one@x")),
		create(user("u2", "Same@x")),
		create(user("u3", "same@X")), // the same userName as u2, case aside
		func(tx RepoTx) error { // writes, then fails: none of it lands
			if err := tx.Put(user("u4", "four@x")); err != nil {
				return err
			}
			return boom
		},
		func(tx RepoTx) error { // writes, then panics: none of it lands
			if err := tx.Put(user("u5", "five@x")); err != nil {
				return err
			}
			panic("bug")
		},
		create(user("u6", "six@x")),
	}
	// Hold the store's one connection, so the writes queue behind it.
	hold, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]chan error, len(writes))
	start := func(i int) {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- repo.Update(ctx, writes[i]) }()
	}
	// waitQueued waits until the leader has taken its group and n writes
	// are queued behind it.
	waitQueued := func(n int) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			q, leading := repo.queue.State()
			if leading && q == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d writes queued, want %d", q, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// The first is the leader, waiting for the connection with a group of
	// one; the rest queue behind it (started after it took its group, so
	// none can join the leader's).
	start(0)
	waitQueued(0)
	for i := 1; i < len(writes); i++ {
		start(i)
	}
	waitQueued(len(writes) - 1)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	got := make([]error, len(writes))
	for i := range writes {
		got[i] = <-errs[i]
	}
	for _, i := range []int{0, 1, 6} {
		if got[i] != nil {
			t.Errorf("write %d: %v", i, got[i])
		}
	}
	if (got[2] == nil) == (got[3] == nil) || !errors.Is(fmt.Errorf("%w%w", got[2], got[3]), ErrConflict) {
		t.Errorf("racing creates of one userName: %v, %v; want one nil, one ErrConflict", got[2], got[3])
	}
	if !errors.Is(got[4], boom) || got[5] == nil {
		t.Errorf("failed writes answered %v, %v", got[4], got[5])
	}

	fresh := NewStateRepo(st, "c")
	for _, id := range []string{"u0", "u1", "u6"} {
		if _, err := fresh.Get(ctx, KindUser, id); err != nil {
			t.Errorf("committed %s: %v", id, err)
		}
	}
	for _, id := range []string{"u4", "u5"} {
		if _, err := fresh.Get(ctx, KindUser, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("failed write's %s: %v, want ErrNotFound", id, err)
		}
		if _, err := repo.Get(ctx, KindUser, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("failed write's %s in memory: %v, want ErrNotFound", id, err)
		}
	}
	snap := readSnapshot(t, st, "c")
	if len(snap.users) != 4 {
		t.Errorf("snapshot has %d users, want 4 (u0, u1, one of u2/u3, u6)", len(snap.users))
	}
	if _, ok := snap.users["u4"]; ok {
		t.Error("the failed write's user is in the snapshot")
	}
}

// Reads served from the decoded copy are the caller's own: changing one
// changes neither the repo nor the next read, and a write is seen at once.
func TestStateRepoReadsAreCopies(t *testing.T) {
	ctx := context.Background()
	repo, _ := openStateRepo(t, "c")
	put := func(title string) {
		t.Helper()
		err := repo.Update(ctx, func(tx RepoTx) error {
			return tx.Put(&Resource{Kind: KindUser, ID: "u1", UserName: "a@x",
				Attrs: map[string]any{"userName": "a@x", "title": title, "emails": []any{map[string]any{"value": "a@x"}}}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("one")
	for range 2 { // the second read is served from the decoded copy
		got, err := repo.ByUserName(ctx, "A@x")
		if err != nil {
			t.Fatal(err)
		}
		if got.Attrs["title"] != "one" {
			t.Fatalf("title %v, want one", got.Attrs["title"])
		}
		got.Attrs["title"] = "changed"
		got.Attrs["emails"].([]any)[0].(map[string]any)["value"] = "changed"
	}
	got, _ := repo.Get(ctx, KindUser, "u1")
	if got.Attrs["emails"].([]any)[0].(map[string]any)["value"] != "a@x" {
		t.Errorf("a caller's change reached the repo: %v", got.Attrs)
	}
	put("two")
	if got, _ := repo.Get(ctx, KindUser, "u1"); got.Attrs["title"] != "two" || got.Version != 2 {
		t.Errorf("after a write: title %v version %d, want two 2", got.Attrs["title"], got.Version)
	}
}
