package entra

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/httppolicy"
)

// The users and groups page decoders (deltapages.go, jsonread.go) against
// encoding/json: the reference is what the pull did before them
// (decodePage, then the conversions), and on every input both must fail,
// or both give the same changes, partial users and links. The one allowed
// difference is a field read twice in one object, which the decoders
// refuse.

const (
	refGraphURL = "https://graph.example/v1.0"
	refAsked    = refGraphURL + "/users/delta?$skiptoken=page1"
)

// refDecode is the pull's page handling before the decoders: CheckElements,
// json.Unmarshal, the link checks, then appendUserChange (with partial
// users as the users pull made them) or appendGroupChanges.
func refDecode(users bool, body []byte, max int) (deltaResult, error) {
	if err := httppolicy.CheckElements(body, "value", max); err != nil {
		return deltaResult{}, err
	}
	var res deltaResult
	if users {
		var p deltaPage[graphUser]
		if err := json.Unmarshal(body, &p); err != nil {
			return deltaResult{}, err
		}
		res.next, res.delta = p.NextLink, p.DeltaLink
		for i := range p.Value {
			u := &p.Value[i]
			if u.ID != "" && u.Removed == nil && u.UserPrincipalName == nil {
				res.partial = append(res.partial, len(res.changes))
				res.changes = append(res.changes, idsync.UserChange(idsync.User{ID: u.ID}))
				continue
			}
			res.changes = appendUserChange(res.changes, u)
		}
	} else {
		var p deltaPage[graphGroup]
		if err := json.Unmarshal(body, &p); err != nil {
			return deltaResult{}, err
		}
		res.next, res.delta = p.NextLink, p.DeltaLink
		for i := range p.Value {
			res.changes = appendGroupChanges(res.changes, &p.Value[i])
		}
	}
	return res, checkLinks(refGraphURL, refAsked, res.next, res.delta)
}

func newDecode(users bool, body []byte, max int, onNext func(string)) (deltaResult, error) {
	if users {
		var d usersDecoder
		return d.decode(refGraphURL, refAsked, body, max, onNext)
	}
	var d groupsDecoder
	return d.decode(refGraphURL, refAsked, body, max, onNext)
}

func isTwice(err error) bool {
	var je *jsonError
	return errors.As(err, &je) && strings.Contains(je.msg, "twice in one object")
}

// differ returns what differs between the decoder and the reference on
// body ("" if nothing).
func differ(users bool, body []byte, max int) string {
	want, werr := refDecode(users, body, max)
	var announced []string
	got, gerr := newDecode(users, body, max, func(l string) { announced = append(announced, l) })
	switch {
	case werr != nil && gerr != nil:
		return ""
	case werr != nil:
		return fmt.Sprintf("encoding/json refuses (%v), the decoder accepts: %+v", werr, got)
	case gerr != nil:
		if isTwice(gerr) {
			return ""
		}
		return fmt.Sprintf("encoding/json accepts, the decoder refuses: %v", gerr)
	}
	if len(announced) > 1 || (len(announced) == 1 && announced[0] != got.next) {
		return fmt.Sprintf("onNext got %q, the page's nextLink is %q", announced, got.next)
	}
	if got.next != want.next || got.delta != want.delta {
		return fmt.Sprintf("links: got %q %q, want %q %q", got.next, got.delta, want.next, want.delta)
	}
	if len(got.changes) != 0 || len(want.changes) != 0 {
		if !reflect.DeepEqual(got.changes, want.changes) {
			return fmt.Sprintf("changes:\n got  %s\n want %s", dumpChanges(got.changes), dumpChanges(want.changes))
		}
	}
	if len(got.partial) != 0 || len(want.partial) != 0 {
		if !reflect.DeepEqual(got.partial, want.partial) {
			return fmt.Sprintf("partial: got %v, want %v", got.partial, want.partial)
		}
	}
	return ""
}

func dumpChanges(cs []idsync.Change) string {
	b, _ := json.Marshal(cs)
	return string(b)
}

// FuzzDeltaPageDecoder holds the decoders to encoding/json on any body,
// with the production entry cap and a small one (so the cap is reached).
//
//	go test ./sources/entra -run '^$' -fuzz FuzzDeltaPageDecoder -fuzztime 3m
func FuzzDeltaPageDecoder(f *testing.F) {
	for _, c := range decoderCases {
		if len(c.body) <= 2048 { // (the fuzzer minimises large inputs slowly; small ones mutate into them)
			f.Add([]byte(c.body))
		}
	}
	f.Add([]byte(`{"value":[[[[[[[[[[[[]]]]]]]]]]]]}`))
	f.Add([]byte(`{"value":[{},{},{},{}]}`))
	for _, b := range graphPageSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, users := range []bool{true, false} {
			for _, max := range []int{maxPageEntries, 3} {
				if d := differ(users, body, max); d != "" {
					t.Fatalf("users=%v max=%d: %s\nbody: %q", users, max, d, body)
				}
			}
		}
	})
}

// graphPageSeeds are FuzzGraphPage's seeds (Graph pages of every kind).
func graphPageSeeds(t testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/fuzz/FuzzGraphPage/*")
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		if len(lines) < 2 || !strings.HasPrefix(lines[1], "[]byte(") {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

type decoderCase struct {
	name, body string
	users      bool
	ok         bool   // the decoders accept it
	want       string // with ok: the changes, as dumpChanges prints them ("" = not checked)
}

const u1 = `"id":"u1","userPrincipalName":"a@x","accountEnabled":true`

var decoderCases = []decoderCase{
	{"a user", `{"@odata.deltaLink":"` + refGraphURL + `/users/delta?$deltatoken=d","value":[{` + u1 + `,"mail":"a@x.example","givenName":"A","surname":"B","displayName":"A B","employeeId":"7","jobTitle":"T","department":"D"}]}`, true, true,
		`[{"kind":"user","user":{"id":"u1","userName":"a@x","email":"a@x.example","givenName":"A","familyName":"B","displayName":"A B","employeeId":"7","title":"T","department":"D","status":"active"}}]`},
	{"disabled", `{"value":[{` + strings.Replace(u1, "true", "false", 1) + `}]}`, true, true, `[{"kind":"user","user":{"id":"u1","userName":"a@x","status":"disabled"}}]`},
	{"accountEnabled null is enabled", `{"value":[{"id":"u1","userPrincipalName":"a","accountEnabled":null}]}`, true, true, `[{"kind":"user","user":{"id":"u1","userName":"a","status":"active"}}]`},
	{"removed, deleted", `{"value":[{"id":"u1","@removed":{"reason":"deleted"}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"hard"}]`},
	{"removed, changed", `{"value":[{"id":"u1","@removed":{"reason":"changed"}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"soft"}]`},
	{"removed, no reason", `{"value":[{"id":"u1","@removed":{}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"soft"}]`},
	{"removed, reason null", `{"value":[{"id":"u1","@removed":{"reason":null,"x":[1,{"y":2}]}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"soft"}]`},
	{"removed, reason escaped", `{"value":[{"id":"u1","@removed":{"reason":"d\u0065leted"}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"hard"}]`},
	{"removed in another case", `{"value":[{"id":"u1","@REMOVED":{"Reason":"deleted"}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"hard"}]`},
	{"removed null is not removed", `{"value":[{` + u1 + `,"@removed":null}]}`, true, true, `[{"kind":"user","user":{"id":"u1","userName":"a@x","status":"active"}}]`},
	{"removed twice", `{"value":[{"id":"u1","@removed":{"reason":"changed"},"@removed":{"reason":"deleted"}}]}`, true, false, ""},
	{"removed twice, folded", `{"value":[{"id":"u1","@removed":null,"@Removed":{"reason":"deleted"}}]}`, true, false, ""},
	{"reason twice", `{"value":[{"id":"u1","@removed":{"reason":"changed","reason":"deleted"}}]}`, true, false, ""},
	{"removed a string", `{"value":[{"id":"u1","@removed":"deleted"}]}`, true, false, ""},
	{"reason a number", `{"value":[{"id":"u1","@removed":{"reason":1}}]}`, true, false, ""},
	{"id twice", `{"value":[{"id":"u1","id":"u2","userPrincipalName":"a"}]}`, true, false, ""},
	{"partial user", `{"value":[{"id":"u1","displayName":"X"}]}`, true, true, `[{"kind":"user","user":{"id":"u1","userName":"","status":""}}]`},
	{"userPrincipalName null is partial", `{"value":[{"id":"u1","userPrincipalName":null}]}`, true, true, `[{"kind":"user","user":{"id":"u1","userName":"","status":""}}]`},
	{"no id", `{"value":[{"userPrincipalName":"a"},{"id":"","userPrincipalName":"b"},null,{}]}`, true, true, `null`},
	{"escapes", `{"value":[{"id":"u\u0031","userPrincipalName":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t","mail":"\ud800","givenName":"\udc00\ud800","surname":"\ud83dx","displayName":"\ud83d\u0041"}]}`, true, true,
		`[{"kind":"user","user":{"id":"u1","userName":"é😀\"\\/\b\f\n\r\t","email":"�","givenName":"��","familyName":"�x","displayName":"�A","status":"active"}}]`},
	{"invalid UTF-8 becomes U+FFFD per byte", "{\"value\":[{\"id\":\"u1\",\"userPrincipalName\":\"a\xff\xfeb\xc3\",\"mail\":\"\xed\xa0\x80\"}]}", true, true,
		`[{"kind":"user","user":{"id":"u1","userName":"a��b�","email":"���","status":"active"}}]`},
	{"escaped keys", `{"v\u0061lue":[{"i\u0064":"u1","userPrincipalName":"a"}]}`, true, true, `[{"kind":"user","user":{"id":"u1","userName":"a","status":"active"}}]`},
	{"folded keys", `{"VALUE":[{"ID":"u1","uſerPrincipalName":"a","MAIL":"m"}]}`, true, true, `[{"kind":"user","user":{"id":"u1","userName":"a","email":"m","status":"active"}}]`},
	{"dotless i is not i", `{"value":[{"ıd":"u1","userPrincipalName":"a"}]}`, true, true, `null`},
	{"unknown fields skipped", `{"@odata.context":"x","value":[{"extra":{"a":[1,-2.5e+3,true,false,null,{"b":"\u0041"}]},"id":"u1","userPrincipalName":"a","manager":[]}],"more":{}}`, true, true,
		`[{"kind":"user","user":{"id":"u1","userName":"a","status":"active"}}]`},
	{"null fields", `{"@odata.nextLink":null,"value":[{"id":"u1","userPrincipalName":"a","mail":null,"department":null}]}`, true, true, `[{"kind":"user","user":{"id":"u1","userName":"a","status":"active"}}]`},
	{"value null", `{"value":null}`, true, true, `null`},
	{"page null", `null`, true, true, `null`},
	{"page an array", `[]`, true, false, ""},
	{"value an object", `{"value":{}}`, true, false, ""},
	{"entry a string", `{"value":["u1"]}`, true, false, ""},
	{"mail a number", `{"value":[{"id":"u1","mail":1}]}`, true, false, ""},
	{"accountEnabled a string", `{"value":[{"id":"u1","accountEnabled":"false"}]}`, true, false, ""},
	{"nextLink a number", `{"@odata.nextLink":1,"value":[]}`, true, false, ""},
	{"empty body", ``, true, false, ""},
	{"trailing bytes", `{"value":[]} x`, true, false, ""},
	{"trailing NUL", "{\"value\":[]}\x00", true, false, ""},
	{"NUL for a value", "{\"value\":\x00}", true, false, ""},
	{"trailing comma", `{"value":[{"id":"u1"},]}`, true, false, ""},
	{"leading zero", `{"x":01,"value":[]}`, true, false, ""},
	{"bad escape", `{"value":[{"id":"\x"}]}`, true, false, ""},
	{"single-quote escape", `{"value":[{"id":"\'"}]}`, true, false, ""},
	{"control byte", "{\"value\":[{\"id\":\"a\tb\"}]}", true, false, ""},
	{"short \\u", `{"value":[{"id":"\u12"}]}`, true, false, ""},
	{"deep unknown", `{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `,"value":[]}`, true, true, `null`},
	{"too deep unknown", `{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `,"value":[]}`, true, false, ""},
	{"whitespace", " \t\r\n{ \"value\" : [ { \"id\" : \"u1\" , \"userPrincipalName\" : \"a\" } ] } \n", true, true, `[{"kind":"user","user":{"id":"u1","userName":"a","status":"active"}}]`},
	{"nextLink off graph_url", `{"@odata.nextLink":"https://evil.example/v1.0/users/delta","value":[]}`, true, false, ""},
	{"nextLink naming its page", `{"@odata.nextLink":"` + refAsked + `","value":[]}`, true, false, ""},
	{"deltaLink with dot segments", `{"@odata.deltaLink":"` + refGraphURL + `/../beta/users/delta","value":[]}`, true, false, ""},
	{"nextLink twice", `{"@odata.nextLink":"` + refGraphURL + `/a","@odata.nextlink":"` + refGraphURL + `/b","value":[]}`, true, false, ""},
	{"value twice", `{"value":[],"value":[{"id":"u1","userPrincipalName":"a"}]}`, true, false, ""},
	{"too many entries", `{"value":[` + strings.Repeat(`{},`, maxPageEntries) + `{}]}`, true, false, ""},
	{"a group with members", `{"value":[{"id":"g1","displayName":"G","description":"d","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u1"},{"@odata.type":"#microsoft.graph.group","id":"g2"},{"@odata.type":"#microsoft.graph.device","id":"d1"},{"@odata.type":"#microsoft.graph.user","id":"u2","@removed":{"reason":"deleted"}},{"@odata.type":"#microsoft.graph.user"},null,{"id":"u3","@odata.type":"#microsoft.graph.user","@removed":null}]}]}`, false, true,
		`[{"kind":"group","group":{"id":"g1","name":"G","description":"d"}},{"kind":"member-added","groupId":"g1","memberId":"u1","memberKind":"user"},{"kind":"member-added","groupId":"g1","memberId":"g2","memberKind":"group"},{"kind":"member-removed","groupId":"g1","memberId":"u2"},{"kind":"member-added","groupId":"g1","memberId":"u3","memberKind":"user"}]`},
	{"members only", `{"value":[{"members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u1"}],"id":"g1"}]}`, false, true, `[{"kind":"member-added","groupId":"g1","memberId":"u1","memberKind":"user"}]`},
	{"a removed group drops its members", `{"value":[{"id":"g1","@removed":{"reason":"changed"},"displayName":"G","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u1"}]}]}`, false, true, `[{"kind":"group-removed","id":"g1","removal":"hard"}]`},
	{"a group without id", `{"value":[{"displayName":"G","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u1"}]}]}`, false, true, `null`},
	{"member removed twice", `{"value":[{"id":"g1","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u1","@removed":{},"@removed":null}]}]}`, false, false, ""},
	{"member type escaped", `{"value":[{"id":"g1","members@delta":[{"@odata.type":"#microsoft.graph.us\u0065r","id":"u1"}]}]}`, false, true, `[{"kind":"member-added","groupId":"g1","memberId":"u1","memberKind":"user"}]`},
	{"members an object", `{"value":[{"id":"g1","members@delta":{}}]}`, false, false, ""},
	{"member a string", `{"value":[{"id":"g1","members@delta":["u1"]}]}`, false, false, ""},
	{"displayName null", `{"value":[{"id":"g1","displayName":null,"description":"d"}]}`, false, true, `null`},
}

func TestDeltaPageDecoderCases(t *testing.T) {
	for _, c := range decoderCases {
		t.Run(c.name, func(t *testing.T) {
			if d := differ(c.users, []byte(c.body), maxPageEntries); d != "" {
				t.Fatal(d)
			}
			got, err := newDecode(c.users, []byte(c.body), maxPageEntries, nil)
			if (err == nil) != c.ok {
				t.Fatalf("accepted=%v, want %v (%v)", err == nil, c.ok, err)
			}
			if c.ok && c.want != "" {
				if s := dumpChanges(got.changes); s != c.want {
					t.Fatalf("changes\n got  %s\n want %s", s, c.want)
				}
			}
		})
	}
}

// TestDeltaPageDecoderTooManyEntries: the cap is the transport's error,
// as CheckElements reports it.
func TestDeltaPageDecoderTooManyEntries(t *testing.T) {
	_, err := newDecode(true, []byte(`{"value":[{},{},{},{}]}`), 3, nil)
	var tm *httppolicy.TooManyElementsError
	if !errors.As(err, &tm) {
		t.Fatalf("err = %v, want a TooManyElementsError", err)
	}
	if _, err := newDecode(true, []byte(`{"value":[{},{},{}]}`), 3, nil); err != nil {
		t.Fatalf("3 entries at a cap of 3: %v", err)
	}
}

// TestDeltaPageDecoderKeepsNoPage: what a page's changes hold does not
// alias the page's bytes, which the transport may reuse.
func TestDeltaPageDecoderKeepsNoPage(t *testing.T) {
	body := []byte(`{"value":[{"id":"u1","userPrincipalName":"a@x"}]}`)
	res, err := newDecode(true, body, maxPageEntries, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'z'
	}
	if u := res.changes[0].User; u.ID != "u1" || u.UserName != "a@x" {
		t.Fatalf("user after the page was overwritten: %+v", u)
	}
}
