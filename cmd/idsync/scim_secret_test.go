package main

import (
	"context"
	"strings"
	"testing"

	pushscim "github.com/idsync/idsync/sources/scim"
	"github.com/idsync/idsync/state"
)

// TestListenerNeverStoresPasswords: Okta's "sync password" sends a
// password on create, PATCH (every spelling) and PUT: none is stored.
func TestListenerNeverStoresPasswords(t *testing.T) {
	f := newListenerFixture(t, pushscim.DefaultConfig())
	r := f.do("POST", "/Users", f.token, strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"p@b.test","password":"Hunter2-post","active":true}`))
	t.Log(r.StatusCode, r.Header.Get("Location"))
	loc := r.Header.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	for _, b := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"password","value":"Hunter2-patch1"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"password":"Hunter2-patch2"}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"PASSWORD","value":"Hunter2-patch3"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User:password":"Hunter2-patch4"}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:password","value":"Hunter2-patch5"}]}`,
	} {
		r := f.do("PATCH", "/Users/"+id, f.token, strings.NewReader(b))
		t.Log("patch", r.StatusCode)
	}
	r = f.do("PUT", "/Users/"+id, f.token, strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"p@b.test","Password":"Hunter2-put","active":true}`))
	t.Log("put", r.StatusCode)
	f.store.View(context.Background(), func(tx *state.Tx) error {
		ps, err := tx.PushResources("a", "User", "", 100)
		for _, p := range ps {
			t.Log(string(p.Attrs))
			if strings.Contains(strings.ToLower(string(p.Attrs)), "hunter2") {
				t.Errorf("stored: %s", p.Attrs)
			}
		}
		return err
	})
}
