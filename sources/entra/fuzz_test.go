package entra

import (
	"net/url"
	"strings"
	"testing"

	"github.com/idsync/idsync"
)

// FuzzGraphPage feeds one Graph answer body to the page handling of every
// collection a pull reads (users and groups delta, app assignments, the
// recycle bin) and to the conversion into changes: whatever Graph (or
// something posing as it) answers, decoding must not panic, a link it
// accepts must stay under graph_url and never name its own page, and no
// change may come out without the id it is about.
func FuzzGraphPage(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzGraphPage (delta pages of users, removed
	// users, partial users, groups with members@delta, assignments, links
	// on and off graph_url, odd JSON).
	const graphURL = "https://graph.example/v1.0"
	const asked = graphURL + "/users/delta?$skiptoken=page1"
	f.Fuzz(func(t *testing.T, body []byte) {
		checkLinks := func(what, next, delta string) {
			for _, l := range []string{next, delta} {
				if l == "" {
					continue
				}
				u, err := url.Parse(l)
				if err != nil || !strings.HasPrefix(l, graphURL+"/") || u.User != nil || u.Host != "graph.example" {
					t.Fatalf("%s: accepted link %q off graph_url", what, l)
				}
				for _, seg := range strings.Split(u.Path, "/") {
					if seg == ".." || seg == "." {
						t.Fatalf("%s: accepted link %q with a dot segment", what, l)
					}
				}
			}
			if next == asked {
				t.Fatalf("%s: accepted a nextLink naming its own page", what)
			}
		}
		if p, err := decodePage[graphUser](graphURL, asked, body); err == nil {
			checkLinks("users", p.NextLink, p.DeltaLink)
			var cs []idsync.Change
			for i := range p.Value {
				cs = appendUserChange(cs, &p.Value[i])
			}
			for _, c := range cs {
				if (c.User != nil && c.User.ID == "") || (c.User == nil && c.ID == "") {
					t.Fatalf("user change without id: %+v", c)
				}
			}
		}
		if p, err := decodePage[graphGroup](graphURL, asked, body); err == nil {
			checkLinks("groups", p.NextLink, p.DeltaLink)
			var cs []idsync.Change
			for i := range p.Value {
				cs = appendGroupChanges(cs, &p.Value[i])
			}
			for _, c := range cs {
				switch c.Kind {
				case idsync.ChangeGroup:
					if c.Group.ID == "" {
						t.Fatalf("group change without id: %+v", c)
					}
				case idsync.ChangeGroupRemoved:
					if c.ID == "" {
						t.Fatalf("group removal without id: %+v", c)
					}
				default:
					if c.GroupID == "" || c.MemberID == "" {
						t.Fatalf("member change without ids: %+v", c)
					}
				}
			}
		}
		if p, err := decodePage[graphAssignment](graphURL, asked, body); err == nil {
			checkLinks("assignments", p.NextLink, p.DeltaLink)
		}
		if p, err := decodePage[binEntry](graphURL, asked, body); err == nil {
			checkLinks("recycle bin", p.NextLink, p.DeltaLink)
		}
	})
}
