package scim

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

const patchHead = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`

// Garbage is a 400 naming the problem, never a 500, and never a partial
// write.
func TestGarbageIsRefusedAndChangesNothing(t *testing.T) {
	c := newTClient(t)
	id := c.user("alice@example.com")
	c.user("bob@example.com")
	gid := c.group("staff")
	before, _ := c.repo.Get(t.Context(), KindUser, id)
	changes := c.changeCount()

	cases := []struct {
		name, method, path, body, scimType string
		status                             int
	}{
		{"bad json", "POST", "/Users", `{"userName": "x",`, "invalidSyntax", 400},
		{"trailing data", "POST", "/Users", `{"userName": "x"} {}`, "invalidSyntax", 400},
		{"not an object", "POST", "/Users", `["userName"]`, "invalidSyntax", 400},
		{"invalid utf-8", "POST", "/Users", "{\"userName\": \"a\xffb\"}", "invalidSyntax", 400},
		{"no userName", "POST", "/Users", `{"active": true}`, "invalidValue", 400},
		{"userName a number", "POST", "/Users", `{"userName": 5}`, "invalidValue", 400},
		{"active a word", "POST", "/Users", `{"userName": "x", "active": "yes"}`, "invalidValue", 400},
		{"emails not objects", "POST", "/Users", `{"userName": "x", "emails": ["a@b"]}`, "invalidValue", 400},
		{"name a string", "POST", "/Users", `{"userName": "x", "name": "X Y"}`, "invalidValue", 400},
		{"same attribute twice", "POST", "/Users", `{"userName": "x", "USERNAME": "y"}`, "invalidSyntax", 400},
		{"duplicate userName", "POST", "/Users", `{"userName": "ALICE@example.com"}`, "uniqueness", 409},
		{"group without name", "POST", "/Groups", `{"members": []}`, "invalidValue", 400},
		{"PUT another id", "PUT", "/Users/" + id, `{"id": "other", "userName": "alice@example.com"}`, "mutability", 400},
		{"PUT takes a taken userName", "PUT", "/Users/" + id, `{"userName": "bob@example.com"}`, "uniqueness", 409},
		{"PATCH no Operations", "PATCH", "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, "invalidSyntax", 400},
		{"PATCH wrong schema", "PATCH", "/Users/" + id, `{"schemas":["urn:x"],"Operations":[{"op":"add","path":"title","value":"x"}]}`, "invalidSyntax", 400},
		{"PATCH unknown op", "PATCH", "/Users/" + id, patchHead + `[{"op":"move","path":"title","value":"x"}]}`, "invalidSyntax", 400},
		{"PATCH unknown path", "PATCH", "/Users/" + id, patchHead + `[{"op":"add","path":"titel","value":"x"}]}`, "invalidPath", 400},
		{"PATCH unparsable path", "PATCH", "/Users/" + id, patchHead + `[{"op":"add","path":"emails[type eq]","value":"x"}]}`, "invalidPath", 400},
		{"PATCH unknown sub-attribute", "PATCH", "/Users/" + id, patchHead + `[{"op":"add","path":"name.nick","value":"x"}]}`, "invalidPath", 400},
		{"PATCH unknown schema", "PATCH", "/Users/" + id, patchHead + `[{"op":"add","path":"urn:x:y:title","value":"x"}]}`, "invalidPath", 400},
		{"PATCH remove without path", "PATCH", "/Users/" + id, patchHead + `[{"op":"remove"}]}`, "noTarget", 400},
		{"PATCH add without value", "PATCH", "/Users/" + id, patchHead + `[{"op":"add","path":"title"}]}`, "invalidValue", 400},
		{"PATCH id", "PATCH", "/Users/" + id, patchHead + `[{"op":"replace","path":"id","value":"x"}]}`, "mutability", 400},
		{"PATCH meta", "PATCH", "/Users/" + id, patchHead + `[{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}]}`, "mutability", 400},
		{"PATCH groups", "PATCH", "/Users/" + id, patchHead + `[{"op":"add","path":"groups","value":[{"value":"` + gid + `"}]}]}`, "mutability", 400},
		{"PATCH path-less id", "PATCH", "/Users/" + id, patchHead + `[{"op":"replace","value":{"id":"x"}}]}`, "mutability", 400},
		{"PATCH path-less not object", "PATCH", "/Users/" + id, patchHead + `[{"op":"replace","value":"x"}]}`, "invalidValue", 400},
		{"PATCH filter matches nothing", "PATCH", "/Users/" + id, patchHead + `[{"op":"replace","path":"emails[type co \"w\"].value","value":"x"}]}`, "noTarget", 400},
		// One good operation and one bad: nothing of either lands.
		{"PATCH one bad op of two", "PATCH", "/Users/" + id, patchHead + `[{"op":"replace","path":"title","value":"Boss"},{"op":"replace","path":"active","value":42}]}`, "invalidValue", 400},
		{"PATCH bad op after a rename", "PATCH", "/Users/" + id, patchHead + `[{"op":"replace","path":"userName","value":"carol@example.com"},{"op":"add","path":"nope","value":1}]}`, "invalidPath", 400},
		{"PATCH removes userName", "PATCH", "/Users/" + id, patchHead + `[{"op":"remove","path":"userName"}]}`, "invalidValue", 400},
		{"PATCH rename to a taken userName", "PATCH", "/Users/" + id, patchHead + `[{"op":"replace","path":"userName","value":"Bob@Example.com"}]}`, "uniqueness", 409},
		{"PATCH member that does not exist", "PATCH", "/Groups/" + gid, patchHead + `[{"op":"add","path":"members","value":[{"value":"nobody"}]}]}`, "invalidValue", 400},
		{"PATCH members a string", "PATCH", "/Groups/" + gid, patchHead + `[{"op":"add","path":"members","value":"string id 1"}]}`, "invalidValue", 400},
		{"PATCH too many ops", "PATCH", "/Users/" + id, patchHead + `[` + strings.Repeat(`{"op":"add","path":"title","value":"x"},`, maxPatchOps) + `{"op":"add","path":"title","value":"x"}]}`, "tooMany", 400},
		{"filter garbage", "GET", "/Users?filter=" + url.QueryEscape(`userName eq`), "", "invalidFilter", 400},
		{"filter unquoted", "GET", "/Users?filter=" + url.QueryEscape(`userName sw O`), "", "invalidFilter", 400},
		{"filter unknown attribute", "GET", "/Users?filter=" + url.QueryEscape(`usrName eq "x"`), "", "invalidFilter", 400},
		{"filter gt on a boolean", "GET", "/Users?filter=" + url.QueryEscape(`active gt true`), "", "invalidFilter", 400},
		{"filter string vs number", "GET", "/Users?filter=" + url.QueryEscape(`userName eq 5`), "", "invalidFilter", 400},
		{"filter bad dateTime", "GET", "/Users?filter=" + url.QueryEscape(`meta.created gt "yesterday"`), "", "invalidFilter", 400},
		{"filter password", "GET", "/Users?filter=" + url.QueryEscape(`password eq "x"`), "", "invalidFilter", 400},
		{"filter too many terms", "GET", "/Users?filter=" + url.QueryEscape(strings.Repeat(`title eq "x" or `, maxFilterTerms)+`title eq "x"`), "", "tooMany", 400},
		{"filter invalid utf-8", "GET", "/Users?filter=userName%20eq%20%22%BA%22", "", "invalidFilter", 400},
		{"count not a number", "GET", "/Users?count=ten", "", "invalidValue", 400},
		{"sortBy", "GET", "/Users?sortBy=userName", "", "invalidValue", 400},
		{"unknown endpoint", "GET", "/Devices", "", "", 404},
		{"bulk", "POST", "/Bulk", `{}`, "", 501},
		{"method", "PATCH", "/Users", `{}`, "", 405},
		{"too deep", "GET", "/Users/" + id + "/x", "", "", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.mustErr(tc.status, tc.scimType, tc.method, tc.path, tc.body)
		})
	}
	c.t = t
	after, _ := c.repo.Get(t.Context(), KindUser, id)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("refused requests changed the user:\nbefore %+v\nafter  %+v", before, after)
	}
	if c.repo.Len(KindUser) != 2 || c.repo.Len(KindGroup) != 1 {
		t.Errorf("refused requests created resources: %d users, %d groups", c.repo.Len(KindUser), c.repo.Len(KindGroup))
	}
	if n := c.changeCount(); n != changes {
		t.Errorf("OnChange called %d times for refused requests", n-changes)
	}
}

func TestBodyLimit(t *testing.T) {
	c := newTClient(t)
	big := `{"userName":"x","title":"` + strings.Repeat("a", DefaultMaxBody) + `"}`
	c.mustErr(413, "", "POST", "/Users", big)
	if c.repo.Len(KindUser) != 0 {
		t.Error("an oversized body was stored")
	}
}

func TestETag(t *testing.T) {
	c := newTClient(t)
	r := c.must(201, "POST", "/Users", `{"userName":"e@example.com"}`)
	id, tag := r.body["id"].(string), r.header.Get("ETag")
	if tag != `W/"1"` || dig(r.body, "meta.version") != tag {
		t.Fatalf("ETag %q, meta.version %v", tag, dig(r.body, "meta.version"))
	}
	c.must(304, "GET", "/Users/"+id, "", "If-None-Match: "+tag)
	r = c.must(204, "PATCH", "/Users/"+id, patchHead+`[{"op":"add","path":"title","value":"x"}]}`, "If-Match: "+tag)
	tag2 := r.header.Get("ETag")
	if tag2 == tag || tag2 == "" {
		t.Fatalf("ETag after a write %q", tag2)
	}
	// The old ETag no longer matches: 412, nothing written.
	c.mustErr(412, "", "PATCH", "/Users/"+id, patchHead+`[{"op":"add","path":"title","value":"y"}]}`, "If-Match: "+tag)
	c.mustErr(412, "", "PUT", "/Users/"+id, `{"userName":"e@example.com"}`, "If-Match: "+tag)
	c.mustErr(412, "", "DELETE", "/Users/"+id, "", "If-Match: "+tag)
	wantField(t, c.must(200, "GET", "/Users/"+id, "").body, "title", "x")
	// A PATCH that changes nothing makes no new version and no run.
	n := c.changeCount()
	r = c.must(204, "PATCH", "/Users/"+id, patchHead+`[{"op":"add","path":"title","value":"x"}]}`, "If-Match: *")
	if r.header.Get("ETag") != tag2 || c.changeCount() != n {
		t.Errorf("a no-op PATCH bumped the version (%s → %s) or triggered a run", tag2, r.header.Get("ETag"))
	}
	c.must(204, "DELETE", "/Users/"+id, "", "If-Match: "+tag2)
}

func TestReadOnlyAttributesIgnoredInBodies(t *testing.T) {
	c := newTClient(t)
	r := c.must(201, "POST", "/Users", `{"userName":"r@example.com","id":"mine","meta":{"created":"2001-01-01T00:00:00Z"},
		"groups":[{"value":"g"}],"unknownThing":1,"name":{"givenName":"R","nick":"x"},
		"urn:example:custom:2.0:User":{"costCode":"7"}}`)
	if r.body["id"] == "mine" || dig(r.body, "meta.created") == "2001-01-01T00:00:00Z" {
		t.Errorf("read-only id/meta taken from the body: %s", r.raw)
	}
	for _, k := range []string{"groups", "unknownThing"} {
		if _, ok := r.body[k]; ok {
			t.Errorf("%s stored: %s", k, r.raw)
		}
	}
	if _, ok := r.body["name"].(map[string]any)["nick"]; ok {
		t.Errorf("unknown sub-attribute stored: %s", r.raw)
	}
	// An extension this listener does not know is kept verbatim.
	if got := r.body["urn:example:custom:2.0:User"]; !reflect.DeepEqual(got, map[string]any{"costCode": "7"}) {
		t.Errorf("custom extension = %v", got)
	}
}
