package scimtest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/idsync/idsync/targets/scim/scimtest"
)

func bulkBody(ops ...string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[` + strings.Join(ops, ",") + `]}`
}

func bulkPost(bulkID, userName string) string {
	return fmt.Sprintf(`{"method":"POST","bulkId":%q,"path":"/Users","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q}}`, bulkID, userName)
}

// /Bulk (RFC 7644 §3.7) serves each operation like its own request, with
// its own status, within the advertised limits; without Options.Bulk it is
// neither advertised nor served.
func TestBulk(t *testing.T) {
	srv := scimtest.NewServer(scimtest.Options{Token: tok, Bulk: true, BulkMaxOperations: 3, BulkMaxPayload: 2000})
	defer srv.Close()
	spc := call(t, srv, "GET", "/ServiceProviderConfig", "")
	if b := spc.body["bulk"].(map[string]any); b["supported"] != true || b["maxOperations"] != float64(3) || b["maxPayloadSize"] != float64(2000) {
		t.Fatalf("bulk config %v", b)
	}
	r := call(t, srv, "POST", "/Bulk", bulkBody(bulkPost("a", "a@x"), bulkPost("b", "a@x"), `{"method":"DELETE","path":"/Users/nope"}`))
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	ops := r.body["Operations"].([]any)
	want := []string{"201", "409", "404"}
	for i, o := range ops {
		if st := o.(map[string]any)["status"]; st != want[i] {
			t.Errorf("operation %d: status %v, want %s", i, st, want[i])
		}
	}
	if loc := ops[0].(map[string]any)["location"].(string); !strings.Contains(loc, "/Users/") || ops[0].(map[string]any)["bulkId"] != "a" {
		t.Errorf("created operation %v", ops[0])
	}
	if r := call(t, srv, "POST", "/Bulk", bulkBody(bulkPost("a", "1"), bulkPost("b", "2"), bulkPost("c", "3"), bulkPost("d", "4"))); r.status != 413 || r.body["scimType"] != "tooMany" {
		t.Errorf("over maxOperations: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "POST", "/Bulk", bulkBody(bulkPost("a", strings.Repeat("x", 2000)))); r.status != 413 || r.body["scimType"] != "tooLarge" {
		t.Errorf("over maxPayloadSize: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "POST", "/Bulk", bulkBody(`{"method":"POST","path":"/Users","data":{"userName":"z"}}`)); r.body["Operations"].([]any)[0].(map[string]any)["status"] != "400" {
		t.Errorf("POST without bulkId: %v", r.body)
	}

	off := scimtest.NewServer(scimtest.Options{Token: tok})
	defer off.Close()
	if b := call(t, off, "GET", "/ServiceProviderConfig", "").body["bulk"].(map[string]any); b["supported"] != false {
		t.Errorf("bulk advertised when off: %v", b)
	}
	if r := call(t, off, "POST", "/Bulk", bulkBody(bulkPost("a", "a@x"))); r.status != 501 || len(off.Users()) != 0 {
		t.Errorf("bulk served when off: %d", r.status)
	}
}

// PATCH, PUT and DELETE inside a Bulk request are served like the single
// requests: the preset's strict rules, 404 for a missing resource, the
// operation's version as If-Match (412 when stale), and each answer carries
// the resource's location and new version.
func TestBulkChangesAndDeletes(t *testing.T) {
	srv := scimtest.NewServer(scimtest.Options{Token: tok, Bulk: true, Preset: "officernd", Strict: true})
	defer srv.Close()
	a := srv.AddUser(scimtest.User{UserName: "a@x", ExternalID: "ea", Active: true})
	b := srv.AddUser(scimtest.User{UserName: "b@x", ExternalID: "eb", Active: true})
	patch := func(id, version, body string) string {
		return fmt.Sprintf(`{"method":"PATCH","path":"/Users/%s","version":%q,"data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}}`, id, version, body)
	}
	cur := call(t, srv, "GET", "/Users/"+a.ID, "").body["meta"].(map[string]any)["version"].(string)
	r := call(t, srv, "POST", "/Bulk", bulkBody(
		patch(a.ID, cur, `{"op":"replace","path":"active","value":false}`),
		patch(b.ID, "W/\"stale\"", `{"op":"replace","path":"active","value":false}`),
		patch(b.ID, "", `{"op":"replace","path":"title","value":"CEO"}`), // OfficeRnD takes no title
		fmt.Sprintf(`{"method":"PUT","path":"/Users/%s","data":{"userName":"b@x","externalId":"eb","displayName":"Bee","active":true}}`, b.ID),
		fmt.Sprintf(`{"method":"DELETE","path":"/Users/%s"}`, b.ID), // OfficeRnD never deletes
		patch("nope", "", `{"op":"replace","path":"active","value":false}`),
	))
	want := []string{"200", "412", "400", "200", "405", "404"}
	ops := r.body["Operations"].([]any)
	for i, o := range ops {
		if st := o.(map[string]any)["status"]; st != want[i] {
			t.Errorf("operation %d: status %v, want %s (%v)", i, st, want[i], o)
		}
	}
	if o := ops[0].(map[string]any); !strings.HasSuffix(str(o["location"]), "/Users/"+a.ID) || str(o["version"]) == "" || str(o["version"]) == cur {
		t.Errorf("PATCH answer %v: want its location and a new version", o)
	}
	if u, _ := srv.User(a.ID); u.Active {
		t.Errorf("a still active after its Bulk PATCH")
	}
	if u, _ := srv.User(b.ID); !u.Active || u.DisplayName != "Bee" || u.Title != "" {
		t.Errorf("b after the Bulk PUT: %+v", u)
	}
}

func str(v any) string { s, _ := v.(string); return s }
