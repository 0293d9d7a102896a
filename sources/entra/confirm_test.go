package entra_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/idsync/idsync"
)

// confirm runs Confirm and returns its answers by id, failing on an id
// answered twice or a page over 100.
func confirm(t *testing.T, src interface {
	Confirm(context.Context, []string, func([]idsync.Change) error) error
}, ids []string) (map[string]idsync.Change, error) {
	t.Helper()
	got := map[string]idsync.Change{}
	err := src.Confirm(context.Background(), ids, func(page []idsync.Change) error {
		if len(page) > 100 {
			t.Errorf("a page of %d answers", len(page))
		}
		for _, c := range page {
			id := c.ID
			if c.Kind == idsync.ChangeUser {
				id = c.User.ID
			}
			if _, dup := got[id]; dup {
				t.Errorf("%s answered twice", id)
			}
			got[id] = c
		}
		return nil
	})
	return got, err
}

// Many users a full read did not mention, in any order: live ones come back
// whole, binned ones as soft removals, purged ones as hard removals, and
// the requests are 1, 2 and 3 per user.
func TestConfirmManyUsers(t *testing.T) {
	srv := newServer(t)
	srv.Generate(300, 2)
	var ids []string
	want := map[string]string{} // id → live, soft, hard
	for i := range 300 {
		id, _ := srv.UserID(fmt.Sprintf("user%06d%s", i, domain))
		ids = append(ids, id)
		switch {
		case i%4 == 1:
			if err := srv.SoftDeleteUser(id); err != nil {
				t.Fatal(err)
			}
			want[id] = "soft"
		case i%4 == 2:
			if err := srv.SoftDeleteUser(id); err != nil {
				t.Fatal(err)
			}
			if err := srv.HardDeleteUser(id); err != nil {
				t.Fatal(err)
			}
			want[id] = "hard"
		default:
			want[id] = "live"
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	src := open(t, config(srv))
	users0, bin0 := srv.Calls("users/{id}"), srv.Calls("deletedItems/{id}")
	got, err := confirm(t, src, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 300 {
		t.Fatalf("%d of 300 users answered", len(got))
	}
	for id, w := range want {
		c := got[id]
		switch {
		case w == "live" && c.Kind == idsync.ChangeUser:
			u, _ := srv.User(id)
			if c.User.UserName != u.UserPrincipalName || (c.User.Status == idsync.StatusActive) != u.AccountEnabled {
				t.Errorf("live %s answered %+v", id, *c.User)
			}
		case w == "soft" && c.Kind == idsync.ChangeUserRemoved && c.Removal == idsync.RemovalSoft,
			w == "hard" && c.Kind == idsync.ChangeUserRemoved && c.Removal == idsync.RemovalHard:
		default:
			t.Errorf("%s (%s) answered %s %s", id, w, c.Kind, c.Removal)
		}
	}
	// 150 live, 75 binned, 75 gone.
	if u, b := srv.Calls("users/{id}")-users0, srv.Calls("deletedItems/{id}")-bin0; u != 150+75+2*75 || b != 75+75 {
		t.Errorf("requests: %d to users/{id}, %d to deletedItems/{id}; want 375 and 150", u, b)
	}
}

// A user restored between its 404 and the recycle bin's 404 is read once
// more, and answered live: the restore cannot delete anyone.
func TestConfirmRestoredBetweenReads(t *testing.T) {
	srv := newServer(t)
	smp := srv.LoadSample()
	id := smp.Users["erin.evans"+domain]
	if err := srv.SoftDeleteUser(id); err != nil {
		t.Fatal(err)
	}
	restored := make(chan error, 1)
	srv.BeforeNext("deletedItems/{id}", func() { restored <- srv.RestoreUser(id) })
	got, err := confirm(t, open(t, config(srv)), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-restored; err != nil {
		t.Fatal(err)
	}
	if c := got[id]; c.Kind != idsync.ChangeUser || c.User.ID != id {
		t.Fatalf("erin, restored between the reads, answered %s %s", c.Kind, c.Removal)
	}
}

// A request that fails fails Confirm: no answer is taken for proof.
func TestConfirmFails(t *testing.T) {
	srv := newServer(t)
	smp := srv.LoadSample()
	var ids []string
	for _, id := range smp.Users {
		ids = append(ids, id)
	}
	srv.FailNext("directory/deletedItems/", http.StatusForbidden, 1)
	if err := srv.SoftDeleteUser(ids[3]); err != nil {
		t.Fatal(err)
	}
	got, err := confirm(t, open(t, config(srv)), ids)
	if err == nil {
		t.Fatalf("Confirm with a failed recycle bin read: no error, answers %v", got)
	}
	if c, ok := got[ids[3]]; ok {
		t.Fatalf("answered %s %s for the user whose read failed", c.Kind, c.Removal)
	}
}
