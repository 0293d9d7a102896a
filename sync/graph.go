package sync

import (
	"slices"
	"strings"

	"github.com/idsync/idsync/state"
)

// graph is the group structure of a connection's snapshot with the policy's
// group references resolved. It is small (groups, not users) and is loaded
// whole on every run; per-group answers are memoised, so evaluating a user
// costs the number of groups it is directly in.
type graph struct {
	names    map[string]string   // group id → name
	descs    map[string]string   // group id → description
	parents  map[string][]string // group id → groups it is directly in
	children map[string][]string // group id → groups directly in it

	scope   map[string]bool // groups named by scope.groups
	ruleIdx []map[string]bool
	pushed  map[string]bool // groups pushed to the target
	// rank is each pushed group's place in groups.include (else
	// scope.groups): a user joining several in one run joins them in this
	// order where the order matters (targets.Traits.OrderedMembers).
	rank map[string]int

	inScopeMemo map[string]bool
	ruleMemo    map[string]int
	pushedMemo  map[string][]string
}

func newGraph(groups []state.GroupRow, edges [][2]string, p Policy) *graph {
	g := &graph{
		names:       make(map[string]string, len(groups)),
		descs:       map[string]string{},
		parents:     map[string][]string{},
		children:    map[string][]string{},
		inScopeMemo: map[string]bool{},
		ruleMemo:    map[string]int{},
		pushedMemo:  map[string][]string{},
	}
	for _, gr := range groups {
		g.names[gr.ID] = gr.Name
		if gr.Description != "" {
			g.descs[gr.ID] = gr.Description
		}
	}
	for _, e := range edges {
		g.parents[e[1]] = append(g.parents[e[1]], e[0])
		g.children[e[0]] = append(g.children[e[0]], e[1])
	}
	g.scope = g.resolve(p.Scope.Groups)
	for _, r := range p.Rules {
		if r.Group != "" {
			g.ruleIdx = append(g.ruleIdx, g.resolve([]string{r.Group}))
		} else {
			g.ruleIdx = append(g.ruleIdx, nil)
		}
	}
	if p.GroupSync {
		include := p.GroupInclude
		if len(include) == 0 {
			include = p.Scope.Groups
		}
		g.pushed = g.resolve(include)
		g.rank = map[string]int{}
		for i, ref := range include {
			for id := range g.resolve([]string{ref}) {
				if _, ok := g.rank[id]; !ok {
					g.rank[id] = i
				}
			}
		}
	}
	return g
}

// resolve turns group references (ids, or names compared case-insensitively)
// into the set of matching group ids. A name shared by several groups
// matches them all.
func (g *graph) resolve(refs []string) map[string]bool {
	set := map[string]bool{}
	for _, ref := range refs {
		if _, ok := g.names[ref]; ok {
			set[ref] = true
			continue
		}
		for id, name := range g.names {
			if strings.EqualFold(name, ref) {
				set[id] = true
			}
		}
	}
	return set
}

// unresolved returns the references that match no group, so the operator
// can be told about a typo instead of watching everyone fall out of scope.
func (g *graph) unresolved(refs []string) []string {
	var out []string
	for _, ref := range refs {
		if len(g.resolve([]string{ref})) == 0 {
			out = append(out, ref)
		}
	}
	return out
}

// inScope reports whether group id is, or is nested (at any depth) in, a scope group.
func (g *graph) inScope(id string) bool {
	if v, ok := g.inScopeMemo[id]; ok {
		return v
	}
	g.inScopeMemo[id] = false // cycle guard
	v := g.scope[id]
	for _, p := range g.parents[id] {
		if v {
			break
		}
		v = g.inScope(p)
	}
	g.inScopeMemo[id] = v
	return v
}

// firstRule returns the index of the first group rule matching group id or a
// group it is nested in, or len(rules) when none does.
func (g *graph) firstRule(id string) int {
	if v, ok := g.ruleMemo[id]; ok {
		return v
	}
	none := len(g.ruleIdx)
	g.ruleMemo[id] = none
	best := none
	for i, set := range g.ruleIdx {
		if set[id] {
			best = i
			break
		}
	}
	for _, p := range g.parents[id] {
		best = min(best, g.firstRule(p))
	}
	g.ruleMemo[id] = best
	return best
}

// pushedGroups returns the pushed groups that group id is, or is nested in, sorted.
func (g *graph) pushedGroups(id string) []string {
	if v, ok := g.pushedMemo[id]; ok {
		return v
	}
	g.pushedMemo[id] = nil
	var out []string
	if g.pushed[id] {
		out = append(out, id)
	}
	for _, p := range g.parents[id] {
		out = append(out, g.pushedGroups(p)...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	g.pushedMemo[id] = out
	return out
}

// descendants returns ids and every group nested in them at any depth.
func (g *graph) descendants(ids []string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		for _, c := range g.children[id] {
			walk(c)
		}
	}
	for _, id := range ids {
		walk(id)
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
