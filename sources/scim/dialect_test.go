package scim

import (
	"net/url"
	"strings"
	"testing"
)

// The Entra and Okta tests send the request bodies the vendors document,
// verbatim from testdata/ (ids swapped for ones this store assigned).

func TestEntraUserDialect(t *testing.T) {
	c := newTClient(t)
	const userName = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"

	// Entra's lookup before a create finds nothing.
	r := c.must(200, "GET", "/Users?filter="+url.QueryEscape(`userName eq "`+userName+`"`), "")
	wantField(t, r.body, "totalResults", 0)
	if res, _ := r.body["Resources"].([]any); res == nil {
		t.Errorf("Resources must be an empty array, not absent: %s", r.raw)
	}

	r = c.must(201, "POST", "/Users", fixture(t, "entra/create-user.json"))
	id := r.body["id"].(string)
	if loc := r.header.Get("Location"); loc != c.srv.URL+"/scim/v2/acme/Users/"+id {
		t.Errorf("Location %q", loc)
	}
	wantField(t, r.body, "meta.location", c.srv.URL+"/scim/v2/acme/Users/"+id)
	wantField(t, r.body, "emails.0.value", "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com")
	if r.header.Get("ETag") == "" {
		t.Error("no ETag on create")
	}

	// Lookup by userName, in another case (userName is caseExact=false).
	r = c.must(200, "GET", "/Users?filter="+url.QueryEscape(`userName eq "TEST_USER_00AA00AA-BB11-CC22-DD33-44EE44EE44EE"`), "")
	wantField(t, r.body, "totalResults", 1)
	wantField(t, r.body, "Resources.0.id", id)
	// Entra also queries by work email.
	r = c.must(200, "GET", "/Users?filter="+url.QueryEscape(`emails[type eq "work"].value eq "test_user_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"`), "")
	wantField(t, r.body, "totalResults", 1)

	c.must(204, "PATCH", "/Users/"+id, fixture(t, "entra/patch-user-multivalued.json"))
	r = c.must(200, "GET", "/Users/"+id, "")
	wantField(t, r.body, "emails.0.value", "updatedEmail@microsoft.com")
	wantField(t, r.body, "emails.0.type", "work")
	wantField(t, r.body, "emails.0.primary", true)
	wantField(t, r.body, "name.familyName", "updatedFamilyName")
	wantField(t, r.body, "name.givenName", "givenName")

	c.must(204, "PATCH", "/Users/"+id, fixture(t, "entra/patch-user-username.json"))
	r = c.must(200, "GET", "/Users/"+id, "")
	wantField(t, r.body, "userName", "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com")

	// Default dialect: "False" as a string, capitalised op.
	c.must(204, "PATCH", "/Users/"+id, fixture(t, "entra/compat-disable-user.json"))
	wantField(t, c.must(200, "GET", "/Users/"+id, "").body, "active", false)
	c.must(204, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}`)
	wantField(t, c.must(200, "GET", "/Users/"+id, "").body, "active", true)
	// aadOptscim062020 dialect and the tutorial's disable: a boolean.
	c.must(204, "PATCH", "/Users/"+id, fixture(t, "entra/compat-disable-user-flag.json"))
	wantField(t, c.must(200, "GET", "/Users/"+id, "").body, "active", false)
	c.must(204, "PATCH", "/Users/"+id, fixture(t, "entra/disable-user.json"))
	wantField(t, c.must(200, "GET", "/Users/"+id, "").body, "active", false)
	// A soft-deleted user is still served (and listed) until DELETE.
	r = c.must(200, "GET", "/Users?filter="+url.QueryEscape(`active eq false`), "")
	wantField(t, r.body, "totalResults", 1)

	c.must(204, "PATCH", "/Users/"+id, fixture(t, "entra/compat-add-nickname.json"))
	wantField(t, c.must(200, "GET", "/Users/"+id, "").body, "nickName", "Babs")
	c.must(204, "PATCH", "/Users/"+id, fixture(t, "entra/compat-add-nickname-flag.json"))
	wantField(t, c.must(200, "GET", "/Users/"+id, "").body, "nickName", "Babs")

	c.must(204, "PATCH", "/Users/"+id, fixture(t, "entra/compat-replace-multiple.json"))
	r = c.must(200, "GET", "/Users/"+id, "")
	wantField(t, r.body, "displayName", "Pvlo")
	wantField(t, r.body, "emails.0.value", "TestBcwqnm@test.microsoft.com")
	wantField(t, r.body, "name.givenName", "Gtfd")
	wantField(t, r.body, "name.familyName", "Pkqf")
	wantField(t, r.body, "externalId", "Eqpj")
	wantField(t, r.body, URNEnterprise+".employeeNumber", "Eqpj")
	if s, _ := r.body["schemas"].([]any); len(s) != 2 {
		t.Errorf("schemas %v: want core and enterprise", s)
	}

	c.must(204, "PATCH", "/Users/"+id, fixture(t, "entra/compat-replace-multiple-flag.json"))
	r = c.must(200, "GET", "/Users/"+id, "")
	wantField(t, r.body, "displayName", "Bjfe")
	wantField(t, r.body, "emails.0.value", "TestMhvaes@test.microsoft.com")
	wantField(t, r.body, "name.givenName", "Kkom")
	wantField(t, r.body, "name.familyName", "Unua")
	wantField(t, r.body, URNEnterprise+".employeeNumber", "Aklq")
	if n := len(r.body["emails"].([]any)); n != 1 {
		t.Errorf("%d emails after replacing the work one, want 1", n)
	}

	// The manager as a bare string (Entra), as an object, then removed.
	boss := c.user("boss@example.com")
	c.must(204, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"`+boss+`"}]}`)
	wantField(t, c.must(200, "GET", "/Users/"+id, "").body, URNEnterprise+".manager.value", boss)
	c.must(204, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}`)
	r = c.must(200, "GET", "/Users/"+id, "")
	if dig(r.body, URNEnterprise+".manager") != nil {
		t.Errorf("manager still there: %s", r.raw)
	}

	// Entra's custom extension attributes: no schema here, kept as sent.
	const custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
	c.must(204, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"`+custom+`:CustomAttribute","value":"x1"}]}`)
	c.must(204, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"`+custom+`:Other":"x2"}}]}`)
	r = c.must(200, "GET", "/Users/"+id, "")
	if got := r.body[custom]; !equalJSON(got, map[string]any{"CustomAttribute": "x1", "Other": "x2"}) {
		t.Errorf("custom extension = %v", got)
	}
	c.must(204, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"`+custom+`"}]}`)
	if _, ok := c.must(200, "GET", "/Users/"+id, "").body[custom]; ok {
		t.Error("custom extension not removed")
	}

	c.must(204, "DELETE", "/Users/"+id, "")
	c.mustErr(404, "", "GET", "/Users/"+id, "")
	c.mustErr(404, "", "DELETE", "/Users/"+id, "")
}

func TestEntraGroupDialect(t *testing.T) {
	c := newTClient(t)
	u1 := c.user("u1@example.com")
	u2 := c.user("u2@example.com")

	r := c.must(201, "POST", "/Groups", fixture(t, "entra/create-group.json"))
	gid := r.body["id"].(string)
	r = c.must(200, "GET", "/Groups/"+gid+"?excludedAttributes=members", "")
	wantField(t, r.body, "displayName", "displayName")
	wantField(t, r.body, "externalId", "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")
	r = c.must(200, "GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "displayName"`), "")
	wantField(t, r.body, "totalResults", 1)
	wantField(t, r.body, "Resources.0.id", gid)

	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "entra/patch-group-displayname.json"))
	wantField(t, c.must(200, "GET", "/Groups/"+gid, "").body, "displayName", "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName")

	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "entra/patch-group-add-members.json", "f648f8d5ea4e4cd38e9c", u1))
	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "entra/patch-group-add-members.json", "f648f8d5ea4e4cd38e9c", u2))
	// Adding a member twice keeps one.
	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "entra/patch-group-add-members.json", "f648f8d5ea4e4cd38e9c", u2))
	r = c.must(200, "GET", "/Groups/"+gid, "")
	if n := len(r.body["members"].([]any)); n != 2 {
		t.Fatalf("%d members, want 2: %s", n, r.raw)
	}
	if _, ok := r.body["members"].([]any)[0].(map[string]any)["$ref"]; ok {
		t.Errorf("a null $ref was stored: %s", r.raw)
	}
	// Excluded members really are excluded.
	r = c.must(200, "GET", "/Groups/"+gid+"?excludedAttributes=members", "")
	if _, ok := r.body["members"]; ok {
		t.Errorf("members served despite excludedAttributes: %s", r.raw)
	}
	// Groups a member is in, by filter.
	r = c.must(200, "GET", "/Groups?filter="+url.QueryEscape(`members[value eq "`+u1+`"]`), "")
	wantField(t, r.body, "totalResults", 1)

	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "entra/patch-group-remove-members.json", "f648f8d5ea4e4cd38e9c", u1))
	r = c.must(200, "GET", "/Groups/"+gid, "")
	wantField(t, r.body, "members.0.value", u2)
	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "entra/compat-remove-member-flag.json", "7f4bc1a3-285e-48ae-8202-5accb43efb0e", u2))
	r = c.must(200, "GET", "/Groups/"+gid, "")
	if _, ok := r.body["members"]; ok {
		t.Errorf("members left: %s", r.raw)
	}
	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "entra/patch-group-add-members.json", "f648f8d5ea4e4cd38e9c", u1))
	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "entra/compat-remove-member.json", "u1091", u1))
	r = c.must(200, "GET", "/Groups/"+gid, "")
	if _, ok := r.body["members"]; ok {
		t.Errorf("members left: %s", r.raw)
	}

	// A member that is not a resource here is refused, and nothing lands.
	c.mustErr(400, "invalidValue", "PATCH", "/Groups/"+gid, fixture(t, "entra/patch-group-add-members.json"))
	// Deleting a user takes it out of its groups.
	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "entra/patch-group-add-members.json", "f648f8d5ea4e4cd38e9c", u1))
	c.must(204, "DELETE", "/Users/"+u1, "")
	r = c.must(200, "GET", "/Groups/"+gid, "")
	if _, ok := r.body["members"]; ok {
		t.Errorf("deleted user still a member: %s", r.raw)
	}
	c.must(204, "DELETE", "/Groups/"+gid, "")
	c.mustErr(404, "", "GET", "/Groups/"+gid, "")
}

func TestOktaDialect(t *testing.T) {
	c := newTClient(t)
	const exampleUser, exampleGroup, otherUser = "23a35c27-23d3-4c03-b4c5-6443c09e7173", "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "89bb1940-b905-4575-9e7f-6f887cfb368e"

	// The lookup Okta makes before a create, as it sends it.
	r := c.must(200, "GET", "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100", "")
	wantField(t, r.body, "totalResults", 0)
	wantField(t, r.body, "startIndex", 1)

	r = c.must(201, "POST", "/Users", fixture(t, "okta/create-user.json"))
	uid := r.body["id"].(string)
	wantField(t, r.body, "active", true)
	wantField(t, r.body, "externalId", "00ujl29u0le5T6Aj10h7")
	if _, ok := r.body["password"]; ok {
		t.Error("password served back")
	}
	stored, _ := c.repo.Get(t.Context(), KindUser, uid)
	if _, ok := stored.Attrs["password"]; ok {
		t.Error("password stored: idsync never stores credentials")
	}
	if stored.UserName != "test.user@okta.local" || stored.ExternalID != "00ujl29u0le5T6Aj10h7" {
		t.Errorf("Resource fields %q %q", stored.UserName, stored.ExternalID)
	}
	r = c.must(200, "GET", "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100", "")
	wantField(t, r.body, "totalResults", 1)
	wantField(t, r.body, "Resources.0.id", uid)
	// Okta creates a user that exists: 409 uniqueness.
	c.mustErr(409, "uniqueness", "POST", "/Users", fixture(t, "okta/create-user.json"))

	// App-Integration-Wizard apps update (and deactivate) with PUT.
	r = c.must(200, "PUT", "/Users/"+uid, fixture(t, "okta/put-user.json", exampleUser, uid))
	wantField(t, r.body, "name.middleName", "Excited")
	wantField(t, r.body, "emails.0.display", "test.user@okta.local")
	c.must(204, "PATCH", "/Users/"+uid, fixture(t, "okta/deactivate-user.json"))
	wantField(t, c.must(200, "GET", "/Users/"+uid, "").body, "active", false)

	u2 := c.user("other@okta.local")
	r = c.must(201, "POST", "/Groups", fixture(t, "okta/create-group.json"))
	gid := r.body["id"].(string)
	wantField(t, r.body, "displayName", "Test SCIMv2")
	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "okta/patch-group-rename.json", exampleGroup, gid))
	// The rename's value carries the group id: another id is refused.
	c.mustErr(400, "mutability", "PATCH", "/Groups/"+gid, fixture(t, "okta/patch-group-rename.json"))

	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "okta/patch-group-members.json", exampleUser, uid, otherUser, u2))
	r = c.must(200, "GET", "/Groups/"+gid, "")
	wantField(t, r.body, "members.0.value", uid)
	wantField(t, r.body, "members.0.display", "test.user@okta.local")
	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "okta/patch-group-replace-members.json", exampleUser, uid, otherUser, u2))
	r = c.must(200, "GET", "/Groups/"+gid, "")
	if n := len(r.body["members"].([]any)); n != 2 {
		t.Errorf("%d members after the full push, want 2", n)
	}
	c.must(204, "PATCH", "/Groups/"+gid, fixture(t, "okta/patch-group-members.json", exampleUser, uid, otherUser, u2))
	r = c.must(200, "GET", "/Groups/"+gid, "")
	if n := len(r.body["members"].([]any)); n != 1 {
		t.Errorf("%d members after removing one, want 1: %s", n, r.raw)
	}
	// A PATCH answered with the resource when the client asks for it.
	r = c.must(200, "PATCH", "/Groups/"+gid+"?excludedAttributes=members", fixture(t, "okta/patch-group-rename.json", exampleGroup, gid))
	wantField(t, r.body, "displayName", "Test SCIMv2")
	c.must(204, "DELETE", "/Groups/"+gid, "")
}

func TestGroupMembersMany(t *testing.T) {
	c := newTClient(t)
	gid := c.group("everyone")
	var ids []string
	for i := range 300 {
		ids = append(ids, c.user("m"+itoa(i)+"@example.com"))
	}
	var add []string
	for _, id := range ids {
		add = append(add, `{"value":"`+id+`"}`, `{"value":"`+id+`","display":"again"}`)
	}
	body := patchHead + `[{"op":"Add","path":"members","value":[` + strings.Join(add, ",") + `]}]}`
	c.must(204, "PATCH", "/Groups/"+gid, body)
	c.must(204, "PATCH", "/Groups/"+gid, body) // idempotent
	r := c.must(200, "GET", "/Groups/"+gid, "")
	if n := len(r.body["members"].([]any)); n != 300 {
		t.Fatalf("%d members, want 300 (each once)", n)
	}
	var rm []string
	for _, id := range ids[:100] {
		rm = append(rm, `{"value":"`+id+`"}`)
	}
	c.must(204, "PATCH", "/Groups/"+gid, patchHead+`[{"op":"Remove","path":"members","value":[`+strings.Join(rm, ",")+`]},{"op":"remove","path":"members[value eq \"`+ids[150]+`\"]"}]}`)
	r = c.must(200, "GET", "/Groups/"+gid, "")
	if n := len(r.body["members"].([]any)); n != 199 {
		t.Fatalf("%d members, want 199", n)
	}
	wantField(t, r.body, "members.0.value", ids[100])
}
