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
