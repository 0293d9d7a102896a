package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

// fuzzSeedRepo holds two users and a group for the fuzzers.
func fuzzSeedRepo(tb testing.TB) (*MemRepo, http.Handler, string, string) {
	repo := NewMemRepo()
	h := NewHandler(repo, Options{BaseURL: "https://idsync.example/scim/v2/acme"})
	post := func(path, body string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		if rec.Code != 201 {
			tb.Fatalf("seed %s: %d %s", path, rec.Code, rec.Body)
		}
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return m["id"].(string)
	}
	uid := post("/Users", `{"userName":"ada@example.com","displayName":"Ada","active":true,"title":"Countess",
		"name":{"givenName":"Ada","familyName":"Lovelace"},
		"emails":[{"value":"ada@example.com","type":"work","primary":true},{"value":"ada@home.org","type":"home"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","manager":{"value":"x"}}}`)
	post("/Users", `{"userName":"grace@example.com","active":false,"emails":[{"value":"grace@navy.mil","type":"work"}]}`)
	gid := post("/Groups", `{"displayName":"staff","members":[{"value":"`+uid+`","display":"Ada"}]}`)
	return repo, h, uid, gid
}

func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "ada@example.com"`, `emails[type eq "work" and value co "@"]`, `not (active eq true) or title pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`, `name.familyName sw "L"`, `emails co "x" and (displayName ew "a" or userName lt "b")`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`, `emails[type eq "work"].value eq "ada@example.com"`,
		`title eq null`, `id ne "1"`, `active eq "True"`, `x eq 1.5e3`, `userName eq "\u00e9\"\\"`, `members[value eq "a"]`,
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	_, h, _, _ := fuzzSeedRepo(f)
	f.Fuzz(func(t *testing.T, filter string, users bool) {
		rt := userType
		path := "/Users"
		if !users {
			rt, path = groupType, "/Groups"
		}
		// Direct: compile, then evaluate on odd shapes (a type-confused
		// store must not panic either).
		if p, err := compileFilter(rt, filter); err == nil {
			for _, m := range []map[string]any{
				{}, {"emails": "x", "name": []any{1}, "active": "maybe", "meta": 5},
				{"emails": []any{nil, 3, map[string]any{"value": 4, "type": true}}, "userName": 7, urnKey(): "x"},
			} {
				p(m)
			}
		} else if _, ok := err.(*apiError); !ok {
			t.Fatalf("%q: a non-SCIM error %T: %v", filter, err, err)
		}
		// Through the handler: 200 or 400, never 500.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path+"?filter="+url.QueryEscape(filter), nil))
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("%q: status %d: %s", filter, rec.Code, rec.Body)
		}
	})
}

func urnKey() string { return URNEnterprise }

func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"x@y"}]`,
		`[{"op":"replace","value":{"active":false,"name.givenName":"A","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"D"}}]`,
		`[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}]`,
		`[{"op":"remove","path":"emails[type eq \"home\"]"},{"op":"add","path":"emails","value":[{"value":"n@x","type":"other"}]}]`,
		`[{"op":"replace","path":"active","value":"False"}]`,
		`[{"op":"remove","path":"name.givenName"},{"op":"replace","path":"userName","value":""}]`,
		`[{"op":"add","path":"members","value":[{"value":"USER"}]},{"op":"remove","path":"members[value eq \"USER\"]"}]`,
		`[{"op":"remove","path":"members","value":[{"value":"USER"}]}]`,
		`[{"op":"replace","value":{"id":"GROUP","displayName":"x"}}]`,
		`[{"op":"replace","path":"title","value":"ok"},{"op":"replace","path":"active","value":3}]`,
		`[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"c"}}}]`,
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	repo, h, uid, gid := fuzzSeedRepo(f)
	f.Fuzz(func(t *testing.T, ops string, user bool) {
		kind, path := KindUser, "/Users/"+uid
		if !user {
			kind, path = KindGroup, "/Groups/"+gid
		}
		ops = strings.NewReplacer("USER", uid, "GROUP", gid).Replace(ops)
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`
		before, err := repo.Get(context.Background(), kind, strings.TrimPrefix(strings.TrimPrefix(path, "/Users/"), "/Groups/"))
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("PATCH", path, strings.NewReader(body)))
		after, err := repo.Get(context.Background(), kind, before.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case rec.Code == 204:
			// What was stored is valid: it survives a PUT of itself unchanged.
			rt := typeOf(kind)
			again, err := normalizeBody(rt, cloneJSON(after.Attrs).(map[string]any))
			if err != nil {
				t.Fatalf("%s: stored a resource that does not validate: %v\n%v", ops, err, after.Attrs)
			}
			if err := checkRequired(rt, again); err != nil {
				t.Fatalf("%s: stored a resource without its required attributes: %v", ops, err)
			}
			// Put it back for the next input (keeps the seed meaningful).
			_ = repo.Update(context.Background(), func(tx RepoTx) error { return tx.Put(before) })
		case rec.Code == 400 || rec.Code == 409:
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("%s: refused (%d) but changed the resource:\nbefore %v\nafter  %v", ops, rec.Code, before.Attrs, after.Attrs)
			}
			var e map[string]any
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e["detail"] == "" {
				t.Fatalf("%s: error without a SCIM body: %s", ops, rec.Body)
			}
		default:
			t.Fatalf("%s: status %d: %s", ops, rec.Code, rec.Body)
		}
	})
}

// FuzzFastPaths: whatever the hand-written recognisers accept, the
// parser reads the same way.
func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{`userName eq "a@b"`, `USERNAME  Eq  "x\"y"`, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "\u00e9"`,
		`userName eq "a" or userName eq "b"`, `name.givenName`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`,
		`members.$ref`, `a-b_c.d1`, `emails[type eq "work"].value`, `userNameeq"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if name, ok := quickUserNameEq(s); ok {
			expr, err := filter.ParseFilter([]byte(s))
			if err != nil {
				// The parser is stricter about escapes (\u needs upper-case
				// hex): accepting more there is fine, anything else is not.
				if !strings.Contains(s, `\`) {
					t.Fatalf("%q: quick accepts, parser refuses: %v", s, err)
				}
				return
			}
			x, ok := expr.(*filter.AttributeExpression)
			if !ok || !strings.EqualFold(x.AttributePath.AttributeName, "userName") || x.AttributePath.SubAttribute != nil {
				t.Fatalf("%q: parser reads %#v", s, expr)
			}
			if cv, _ := x.CompareValue.(string); unescape(cv) != name {
				t.Fatalf("%q: quick %q, parser %q", s, name, unescape(cv))
			}
		}
		if p, ok := quickPath(s); ok {
			lp, err := filter.ParsePath([]byte(s))
			if err != nil {
				t.Fatalf("%q: quick accepts, parser refuses: %v", s, err)
			}
			if lp.String() != p.String() || lp.ValueExpression != nil {
				t.Fatalf("%q: quick %v, parser %v", s, p, lp)
			}
		}
	})
}
