package state

import (
	"errors"
	"testing"
	"time"
)

func TestPushResources(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	alice := &PushResource{Kind: "User", ID: "u1", UserName: "Alice@Acme.test", ExternalID: "x", Attrs: []byte(`{"userName":"Alice@Acme.test"}`)}
	update(t, s, func(tx *Tx) error { return tx.PutPushResource("a", alice) })
	if alice.Version != 1 || alice.Created.IsZero() || !alice.Created.Equal(alice.Modified) {
		t.Fatalf("created %+v", alice)
	}
	update(t, s, func(tx *Tx) error {
		// The same userName on another connection is free; on this one, in any case, it is taken.
		if err := tx.PutPushResource("b", &PushResource{Kind: "User", ID: "u9", UserName: "alice@acme.test", Attrs: []byte(`{}`)}); err != nil {
			return err
		}
		if err := tx.PutPushResource("a", &PushResource{Kind: "User", ID: "u2", UserName: "ALICE@acme.TEST", Attrs: []byte(`{}`)}); !errors.Is(err, ErrUserNameTaken) {
			t.Errorf("duplicate userName: %v", err)
		}
		// externalId is not unique.
		if err := tx.PutPushResource("a", &PushResource{Kind: "User", ID: "u3", UserName: "bob@acme.test", ExternalID: "x", Attrs: []byte(`{}`)}); err != nil {
			return err
		}
		// Groups have no userName: any number of them.
		for _, id := range []string{"g1", "g2"} {
			if err := tx.PutPushResource("a", &PushResource{Kind: "Group", ID: id, Attrs: []byte(`{"displayName":"G"}`)}); err != nil {
				return err
			}
		}
		alice.UserName = "alice@acme.test" // renaming to itself in another case is fine
		return tx.PutPushResource("a", alice)
	})
	if alice.Version != 2 || !alice.Modified.After(alice.Created) && !alice.Modified.Equal(alice.Created) {
		t.Fatalf("replaced %+v", alice)
	}
	update(t, s, func(tx *Tx) error {
		got, err := tx.PushUserByName("a", "ALICE@ACME.TEST")
		if err != nil || got == nil || got.ID != "u1" || got.Version != 2 || string(got.Attrs) != `{"userName":"Alice@Acme.test"}` {
			t.Errorf("by userName: %+v %v", got, err)
		}
		if !got.Created.Equal(alice.Created.Truncate(time.Nanosecond)) {
			t.Errorf("created moved: %v, was %v", got.Created, alice.Created)
		}
		if got, err := tx.PushResource("a", "Group", "u1"); got != nil || err != nil {
			t.Errorf("a user read as a group: %+v %v", got, err)
		}
		users, err := tx.PushResources("a", "User", "", 10)
		if err != nil || len(users) != 2 || users[0].ID != "u1" || users[1].ID != "u3" {
			t.Errorf("users: %v %v", users, err)
		}
		page, err := tx.PushResources("a", "Group", "g1", 10)
		if err != nil || len(page) != 1 || page[0].ID != "g2" {
			t.Errorf("groups after g1: %v %v", page, err)
		}
		st, err := tx.PushStats("a")
		if err != nil || st.Users != 2 || st.Groups != 2 || st.LastPush.IsZero() {
			t.Errorf("stats %+v %v", st, err)
		}
		if ok, err := tx.DeletePushResource("a", "User", "u1"); !ok || err != nil {
			t.Errorf("delete: %v %v", ok, err)
		}
		if ok, err := tx.DeletePushResource("a", "User", "u1"); ok || err != nil {
			t.Errorf("delete again: %v %v", ok, err)
		}
		// The userName is free again.
		return tx.PutPushResource("a", &PushResource{Kind: "User", ID: "u4", UserName: "alice@acme.test", Attrs: []byte(`{}`)})
	})
}

func TestTokens(t *testing.T) {
	s := open(t, t.TempDir()+"/idsync.db")
	exp := time.Now().Add(time.Hour).UTC()
	update(t, s, func(tx *Tx) error {
		if err := tx.CreateToken(&Token{Connection: "a", Name: "entra", Hash: "h1", Expires: exp}); err != nil {
			return err
		}
		if err := tx.CreateToken(&Token{Connection: "a", Name: "entra", Hash: "h2"}); !errors.Is(err, ErrTokenExists) {
			t.Errorf("second live token of one name: %v", err)
		}
		if err := tx.CreateToken(&Token{Connection: "b", Name: "entra", Hash: "h3"}); err != nil {
			return err
		}
		if err := tx.RevokeToken("a", "nope"); !errors.Is(err, ErrNoToken) {
			t.Errorf("revoke unknown: %v", err)
		}
		return tx.TouchTokens(map[string]time.Time{"h1": time.Now()})
	})
	var ts []Token
	update(t, s, func(tx *Tx) (err error) { ts, err = tx.Tokens("a"); return err })
	if len(ts) != 1 || ts[0].Hash != "h1" || !ts[0].Expires.Equal(exp) || ts[0].LastUsed.IsZero() || !ts[0].Valid(time.Now()) || ts[0].Valid(exp) {
		t.Fatalf("tokens %+v", ts)
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.RevokeToken("a", "entra"); err != nil {
			return err
		}
		ts, _ = tx.Tokens("")
		if len(ts) != 2 || ts[0].Revoked.IsZero() || ts[0].Valid(time.Now()) || !ts[1].Valid(time.Now()) {
			t.Errorf("after revoke %+v", ts)
		}
		// A revoked name can be used again, with a new token.
		return tx.CreateToken(&Token{Connection: "a", Name: "entra", Hash: "h4"})
	})
	update(t, s, func(tx *Tx) (err error) { ts, err = tx.Tokens("a"); return err })
	if len(ts) != 1 || ts[0].Hash != "h4" || !ts[0].Valid(time.Now()) || !ts[0].LastUsed.IsZero() {
		t.Fatalf("recreated %+v", ts)
	}
}
