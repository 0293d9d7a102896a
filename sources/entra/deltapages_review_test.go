package entra

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Review of the users and groups page decoders against encoding/json
// (differ): nesting at the depth limit at every level the decoders read
// themselves, and FuzzDeltaPageShapes, which builds Graph-shaped pages out
// of field names in every spelling encoding/json matches (case, escapes,
// Unicode folds) and values of every type, where the byte-level
// FuzzDeltaPageDecoder rarely reaches a known field name at all.

// nest wraps v in n arrays.
func nest(n int, v string) string { return strings.Repeat("[", n) + v + strings.Repeat("]", n) }

func TestDeltaPageDecoderDepthAtEveryLevel(t *testing.T) {
	// level is the nesting level of the value at the hole (top object = 1).
	type at struct {
		name  string
		users bool
		level int
		page  func(hole string) string
	}
	for _, a := range []at{
		{"page field", true, 2, func(h string) string { return `{"x":` + h + `,"value":[]}` }},
		{"user field", true, 4, func(h string) string { return `{"value":[{"id":"u1","x":` + h + `}]}` }},
		{"user @removed field", true, 5, func(h string) string { return `{"value":[{"id":"u1","@removed":{"x":` + h + `}}]}` }},
		{"group field", false, 4, func(h string) string { return `{"value":[{"id":"g1","x":` + h + `}]}` }},
		{"group @removed field", false, 5, func(h string) string { return `{"value":[{"id":"g1","@removed":{"x":` + h + `}}]}` }},
		{"member field", false, 6, func(h string) string {
			return `{"value":[{"id":"g1","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u1","x":` + h + `}]}]}`
		}},
		{"member @removed field", false, 7, func(h string) string {
			return `{"value":[{"id":"g1","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u1","@removed":{"x":` + h + `}}]}]}`
		}},
	} {
		for _, extra := range []int{-1, 0, 1} {
			// arrays opened at the hole: levels level .. level+n-1
			n := maxJSONDepth - a.level + 1 + extra
			body := a.page(nest(n, ""))
			if d := differ(a.users, []byte(body), maxPageEntries); d != "" {
				t.Errorf("%s, %d levels past the limit: %s", a.name, extra, d)
			}
			if _, err := newDecode(a.users, []byte(body), maxPageEntries, nil); (err == nil) != (extra <= 0) {
				t.Errorf("%s, %d levels past the limit: accepted=%v", a.name, extra, err == nil)
			}
		}
	}
}

// shapeKeys are the spellings tried for each field name.
func shapeKeys(name string) []string {
	out := []string{name, strings.ToUpper(name), strings.ToLower(name)}
	// an escaped letter
	if i := strings.IndexFunc(name, func(r rune) bool { return r >= 'a' && r <= 'z' }); i >= 0 {
		out = append(out, name[:i]+fmt.Sprintf(`\u%04x`, name[i])+name[i+1:])
	}
	// Unicode letters that fold to ASCII ones: ſ (s), K (Kelvin, k), and
	// ones that do not: ı (dotless i), İ.
	for from, to := range map[string]string{"s": "ſ", "S": "ſ", "k": "\u212a", "K": "\u212a", "i": "ı", "I": "İ"} {
		if strings.Contains(name, from) {
			out = append(out, strings.Replace(name, from, to, 1))
		}
	}
	return out
}

var (
	shapeUserNames   = []string{"id", "userPrincipalName", "mail", "accountEnabled", "@removed", "displayName", "surname", "jobTitle", "x"}
	shapeGroupNames  = []string{"id", "displayName", "description", "@removed", "members@delta", "x"}
	shapeMemberNames = []string{"@odata.type", "id", "@removed", "x"}
	shapePageNames   = []string{"@odata.nextLink", "@odata.deltaLink", "value", "@odata.context"}
	shapeStrings     = []string{`"u1"`, `""`, `"a@x"`, `"\u0075\u0031"`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `"deleted"`, `"changed"`, `"d\u0065leted"`,
		`"#microsoft.graph.user"`, `"#microsoft.graph.group"`, `"#microsoft.graph.device"`, `"#Microsoft.Graph.User"`,
		`"` + refGraphURL + `/users/delta?$skiptoken=2"`, `"` + refGraphURL + `/users/delta?$deltatoken=d"`, `"https://evil.example/v1.0/x"`, `"` + refAsked + `"`}
	shapeScalars = []string{`null`, `true`, `false`, `0`, `-1.5e3`, `{}`, `[]`, `[1,{"a":null}]`}
)

// shapeGen builds a JSON text from fuzz bytes.
type shapeGen struct {
	data []byte
	sb   strings.Builder
}

func (g *shapeGen) pick(n int) int {
	if n <= 1 {
		return 0
	}
	if len(g.data) == 0 {
		return 0
	}
	c := int(g.data[0])
	g.data = g.data[1:]
	return c % n
}

func (g *shapeGen) key(names []string) string {
	ks := shapeKeys(names[g.pick(len(names))])
	return ks[g.pick(len(ks))]
}

// scalar is mostly a string (what most fields want), sometimes null, rarely
// another type.
func (g *shapeGen) scalar() string {
	switch g.pick(16) {
	case 0:
		return shapeScalars[g.pick(len(shapeScalars))]
	case 1, 2:
		return `null`
	}
	return shapeStrings[g.pick(len(shapeStrings))]
}

func (g *shapeGen) boolean() string {
	switch g.pick(8) {
	case 0:
		return g.scalar()
	case 1:
		return `null`
	case 2, 3, 4:
		return `false`
	}
	return `true`
}

func (g *shapeGen) removed() string {
	switch g.pick(8) {
	case 0:
		return `null`
	case 1:
		return g.scalar()
	}
	var parts []string
	for n := g.pick(3); n > 0; n-- {
		parts = append(parts, `"`+g.key([]string{"reason", "x"})+`":`+g.scalar())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// object spells up to 5 of names, each once but rarely (a field twice is
// refused by the decoders, so a page with one says little).
func (g *shapeGen) object(names []string, value func(name string) string) string {
	var parts []string
	used := map[int]bool{}
	for n := g.pick(6); n > 0; n-- {
		i := g.pick(len(names))
		if used[i] && len(used) < len(names) && g.pick(16) != 0 {
			for used[i] {
				i = (i + 1) % len(names)
			}
		}
		used[i] = true
		ks := shapeKeys(names[i])
		k := ks[g.pick(len(ks))]
		parts = append(parts, `"`+k+`":`+value(k))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// canonical names the field k spells (by encoding/json's folding), or "".
func canonical(k string, names []string) string {
	u := string(appendUnquoted(nil, []byte(k)))
	for _, n := range names {
		if string(appendFoldedName(nil, []byte(u))) == string(appendFoldedName(nil, []byte(n))) {
			return n
		}
	}
	return ""
}

func (g *shapeGen) page(users bool) string {
	entryNames, memberNames := shapeUserNames, shapeMemberNames
	if !users {
		entryNames = shapeGroupNames
	}
	member := func() string {
		if g.pick(16) == 0 {
			return g.scalar()
		}
		return g.object(memberNames, func(k string) string {
			if canonical(k, memberNames) == "@removed" {
				return g.removed()
			}
			return g.scalar()
		})
	}
	entry := func() string {
		if g.pick(16) == 0 {
			return g.scalar()
		}
		return g.object(entryNames, func(k string) string {
			switch canonical(k, entryNames) {
			case "@removed":
				return g.removed()
			case "accountEnabled":
				return g.boolean()
			case "members@delta":
				if g.pick(8) == 0 {
					return g.scalar()
				}
				var ms []string
				for n := g.pick(4); n > 0; n-- {
					ms = append(ms, member())
				}
				return "[" + strings.Join(ms, ",") + "]"
			}
			return g.scalar()
		})
	}
	return g.object(shapePageNames, func(k string) string {
		switch canonical(k, shapePageNames) {
		case "@odata.nextLink", "@odata.deltaLink":
			if g.pick(4) != 0 { // mostly a link the pull follows, so the page gets compared
				return `"` + refGraphURL + `/users/delta?$skiptoken=` + fmt.Sprint(g.pick(4)) + `"`
			}
		}
		if canonical(k, shapePageNames) == "value" && g.pick(8) != 0 {
			var es []string
			for n := g.pick(5); n > 0; n-- {
				es = append(es, entry())
			}
			return "[" + strings.Join(es, ",") + "]"
		}
		return g.scalar()
	})
}

// FuzzDeltaPageShapes: Graph-shaped pages, both decoders against
// encoding/json.
//
//	go test ./sources/entra -run '^$' -fuzz FuzzDeltaPageShapes -fuzztime 3m
func FuzzDeltaPageShapes(f *testing.F) {
	f.Add([]byte{3, 2, 5, 0, 3, 0, 1, 0, 2, 1, 4, 0, 4, 1, 0})
	f.Add([]byte("\x05\x02\x01\x04\x00\x06\x02\x01\x00\x03\x01\x02\x07\x04\x03\x01\x00\x05"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, users := range []bool{true, false} {
			g := shapeGen{data: data}
			body := g.page(users)
			if !utf8.ValidString(body) && strings.Count(body, "\xff") == 0 {
				t.Fatalf("generator made invalid UTF-8 by mistake: %q", body)
			}
			for _, max := range []int{maxPageEntries, 2} {
				if d := differ(users, []byte(body), max); d != "" {
					t.Fatalf("users=%v max=%d: %s\nbody: %s", users, max, d, body)
				}
			}
		}
	})
}

// reviewCases are the brief's named inputs that decoderCases does not
// already hold; each is checked against encoding/json and for its outcome.
var reviewCases = []decoderCase{
	{"BOM", "\xef\xbb\xbf{\"value\":[]}", true, false, ""},
	{"nextLink with a Kelvin sign", `{"@odata.nextLin` + "\u212a" + `":"` + refGraphURL + `/users/delta?$skiptoken=2","value":[]}`, true, true, `null`},
	{"reason with a long s is read", `{"value":[{"id":"u1","@removed":{"rea` + "ſ" + `on":"deleted"}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"hard"}]`},
	{"@removed escaped", `{"value":[{"id":"u1","\u0040removed":{"reason":"deleted"}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"hard"}]`},
	{"reason deleted in another case is soft", `{"value":[{"id":"u1","@removed":{"reason":"Deleted"}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"soft"}]`},
	{"reason with a lone surrogate is soft", `{"value":[{"id":"u1","@removed":{"reason":"deleted\ud800"}}]}`, true, true, `[{"kind":"user-removed","id":"u1","removal":"soft"}]`},
	{"a later @removed null does not undo a mark", `{"value":[{"id":"u1","@removed":{"reason":"deleted"},"@REMOVED":null}]}`, true, false, ""},
	{"userPrincipalName twice, folded", `{"value":[{"id":"u1","userPrincipalName":"a@x","USERPRINCIPALNAME":"b@x"}]}`, true, false, ""},
	{"id with a lone surrogate", `{"value":[{"id":"\udc00u1","userPrincipalName":"a"}]}`, true, true, `[{"kind":"user","user":{"id":"�u1","userName":"a","status":"active"}}]`},
	{"huge numbers skipped", `{"x":1e999999999,"y":-0.0000000000000000000001E-99999,"value":[]}`, true, true, `null`},
	{"removed a boolean", `{"value":[{"id":"u1","@removed":true}]}`, true, false, ""},
	{"accountEnabled 0", `{"value":[{"id":"u1","userPrincipalName":"a","accountEnabled":0}]}`, true, false, ""},
	{"a service principal member skipped", `{"value":[{"id":"g1","members@delta":[{"@odata.type":"#microsoft.graph.servicePrincipal","id":"s1","@removed":{}},{"@odata.type":"#microsoft.graph.orgContact","id":"c1"}]}]}`, false, true, `null`},
	{"member removed in folded spelling", `{"value":[{"id":"g1","MEMBERS@DELTA":[{"@ODATA.TYPE":"#microsoft.graph.user","ID":"u1","@Removed":{"reason":"changed"}}]}]}`, false, true, `[{"kind":"member-removed","groupId":"g1","memberId":"u1"}]`},
	{"members null", `{"value":[{"id":"g1","displayName":"G","members@delta":null}]}`, false, true, `[{"kind":"group","group":{"id":"g1","name":"G"}}]`},
	{"group removed, reason ignored", `{"value":[{"id":"g1","@removed":{"reason":"changed"}}]}`, false, true, `[{"kind":"group-removed","id":"g1","removal":"hard"}]`},
	{"trailing second object", `{"value":[]}{}`, true, false, ""},
	{"value entries past the cap, malformed later", `{"value":[` + strings.Repeat(`{},`, maxPageEntries+1) + `{}],"x":}`, true, false, ""},
}

func TestDeltaPageDecoderReviewCases(t *testing.T) {
	for _, c := range reviewCases {
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
