package config

import (
	"fmt"
	"strings"
	"testing"
)

// Each of these used to end in "fatal error: stack overflow": the walkers
// followed the alias back into its own anchor forever.
func TestAliasContainingItselfIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"sequence alias", `
connections: &a [*a]
`, "idsync.yaml:2: connections[0]: alias *a is inside its own anchor &a (line 2)"},
		{"merge into itself", `
connections:
  - &c {<<: *c}
`, "idsync.yaml:3: connections[0]: alias *a"},
		{"merge key in a backend block", `
connections:
  - name: a
    source: {type: okta}
    target: &t
      type: scim
      <<: *t
`, "idsync.yaml:7: connections[0].target: alias *t is inside its own anchor &t (line 5)"},
		{"secret holding itself", `
connections:
  - name: a
    source: {type: okta}
    target: {type: scim, token: &s [*s]}
`, "idsync.yaml:5: connections[0].target.token[0]: alias *s"},
		{"list of strings holding itself", `
connections:
  - name: a
    source: {type: okta}
    target: {type: scim}
    groups: {include: &g [x, *g]}
`, "idsync.yaml:6: connections[0].groups.include[1]: alias *g"},
		{"cycle through two anchors", `
connections:
  - name: a
    source: &x {type: okta, y: &y {back: *x}}
    target: {type: scim}
`, "idsync.yaml:4: connections[0].source.y.back: alias *x is inside its own anchor &x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.Replace(tc.want, "*a", "*"+anchorIn(tc.yaml), 1)
			got := problems(t, tc.yaml, nil)
			if len(got) != 1 || !strings.HasPrefix(got[0], want) {
				t.Fatalf("problems = %q, want one starting %q", got, want)
			}
		})
	}
}

// anchorIn is the first anchor's name in a test file.
func anchorIn(yaml string) string {
	_, after, _ := strings.Cut(yaml, "&")
	name, _, _ := strings.Cut(after, " ")
	return name
}

// laughs is a "billion laughs" file: levels anchors, each merging the one
// before ten times, all merged into a target block, which Parse flattens.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("connections:\n  - name: a\n    source: {type: okta}\n    target:\n      type: scim\n      l0: &l0 {k: v}\n")
	for i := 1; i < levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "      l%d: &l%d {<<: [%s]}\n", i, i, refs)
	}
	fmt.Fprintf(&b, "      <<: *l%d\n", levels-1)
	return b.String()
}

// A fan-out of aliases costs ten times more to walk with each level: nine
// levels are a billion nodes. It is refused, whatever its depth, before
// anything walks it.
func TestAliasFanOutBillionLaughsIsAnError(t *testing.T) {
	for _, levels := range []int{5, 9, 30} {
		t.Run(fmt.Sprint(levels), func(t *testing.T) {
			got := problems(t, laughs(levels), nil)
			want := "idsync.yaml:10: connections[0].target.l4[1]: aliases expand the file by more than 10000 nodes (*l3 adds 3333)"
			if len(got) != 1 || !strings.HasPrefix(got[0], want) {
				t.Fatalf("problems = %q, want one starting %q", got, want)
			}
		})
	}
}

// Anchors used the way they are meant to, sharing blocks, stay well within
// the budget, which grows with the file: 1000 connections aliasing one
// target and one roles block and merging one source add about 43,000 nodes
// to a file of 13,000.
func TestAliasSharingWithinBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("connections:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  - name: c%d\n", i)
		if i == 0 {
			b.WriteString("    source: &src {type: okta, org_url: https://x.okta.com, token: t, scope: {groups: [a, b, c, d, e, f]}}\n")
			b.WriteString("    target: &tgt {type: scim, url: https://w.example/scim/v2, token: t, rate_limit: 5, timeout: 30s}\n")
			b.WriteString("    roles: &roles {default: reader, rules: [{group: a, role: admin}, {group: b, role: writer}]}\n")
			continue
		}
		b.WriteString("    source: {<<: *src, token: u}\n    target: *tgt\n    roles: *roles\n")
	}
	cfg := mustParse(t, b.String(), nil)
	if len(cfg.Connections) != 1000 {
		t.Fatalf("%d connections", len(cfg.Connections))
	}
	c := cfg.Connections[999]
	if c.Source.Type != "okta" || c.Target.Type != "scim" || len(c.Scope.Groups) != 6 || len(c.Roles.Rules) != 2 {
		t.Fatalf("connection 999 = %+v", c)
	}
	var tgt sampleTarget
	if err := c.Target.Decode(&tgt); err != nil || tgt.URL != "https://w.example/scim/v2" {
		t.Fatalf("target: %+v %v", tgt, err)
	}
}
