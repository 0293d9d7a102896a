package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// The nodes a file's aliases may add: every node reached through an alias
// counts, once per alias that reaches it. The budget is aliasRatio times the
// nodes the file itself holds, and at least minAliasBudget.
//
// yaml.v3 leaves aliases unexpanded when it parses into a yaml.Node, and
// everything in this package (pairs, decode, resolveSecrets, Backend.Decode)
// walks the tree following them, several passes in all. Real files use
// anchors to share a few small blocks: 100 connections that alias one
// target, merge one source and alias one roles block add about 4,300 nodes
// to a file of about 1,300, and both grow with the connections. Tying the budget to the file
// keeps every later pass within 11 times the work of the file as written
// (a padded file buys its budget with its own size), and the floor lets a
// small file share generously. A "billion laughs" fan-out (ten aliases of
// ten aliases of ...) passes it at its fourth or fifth level, long before
// it costs anything: each level used to cost ten times the one before.
const (
	minAliasBudget = 10_000
	aliasRatio     = 10
)

// checkAliases walks the document once, before anything else reads it, and
// reports an alias that contains itself (&a [*a], &a {<<: *a}: every walker
// would recurse until the stack overflows) or aliases that expand past
// maxAliasNodes. It reports at most one problem and returns false when it
// did: the tree must then not be walked at all.
//
// The walk itself is linear in the file: the expanded size of each node is
// computed once and reused by every alias to it.
func (p *parser) checkAliases(root *yaml.Node) bool {
	w := &aliasWalk{p: p, size: map[*yaml.Node]int{}, open: map[*yaml.Node]bool{}}
	w.budget = max(minAliasBudget, aliasRatio*literalNodes(root))
	w.walk("", root)
	return !w.failed
}

type aliasWalk struct {
	p      *parser
	size   map[*yaml.Node]int  // expanded size of each node walked
	open   map[*yaml.Node]bool // nodes being walked: an alias to one is a cycle
	added  int                 // nodes reached through aliases so far
	budget int                 // how many added nodes are allowed
	failed bool
}

// walk returns n's expanded size (n and everything under it, aliases
// followed); 0 once the walk has failed.
func (w *aliasWalk) walk(path string, n *yaml.Node) int {
	if n == nil || w.failed {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		return w.alias(path, n)
	}
	if s, ok := w.size[n]; ok {
		return s
	}
	w.open[n] = true
	total := 1
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			total += w.walk(path, k)
			vpath := path
			if k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" {
				vpath = joinKey(path, k.Value)
			}
			total += w.walk(vpath, v)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			total += w.walk(joinIndex(path, i), c)
		}
	default:
		for _, c := range n.Content {
			total += w.walk(path, c)
		}
	}
	delete(w.open, n)
	if w.failed {
		return 0
	}
	w.size[n] = total
	return total
}

func (w *aliasWalk) alias(path string, n *yaml.Node) int {
	t := n.Alias
	if t == nil {
		return 1
	}
	if w.open[t] {
		w.fail(path, n, "alias *%s is inside its own anchor &%s (line %d): an anchor cannot contain an alias or merge of itself; "+
			"repeat the values instead", n.Value, t.Anchor, t.Line)
		return 0
	}
	s, ok := w.size[t]
	if !ok {
		// The parser puts an anchor before its aliases, so this happens
		// only in trees built by hand; walk it here.
		if s = w.walk(path, t); w.failed {
			return 0
		}
	}
	w.added += s
	if w.added > w.budget {
		w.fail(path, n, "aliases expand the file by more than %d nodes (*%s adds %d): anchors are for sharing a few blocks; "+
			"write the rest out", w.budget, n.Value, s)
		return 0
	}
	return s
}

// literalNodes counts the nodes of the file as written, aliases not
// followed (so it ends whatever they point at).
func literalNodes(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	total := 1
	if n.Kind != yaml.AliasNode {
		for _, c := range n.Content {
			total += literalNodes(c)
		}
	}
	return total
}

func (w *aliasWalk) fail(path string, n *yaml.Node, format string, args ...any) {
	w.failed = true
	w.p.problem(path, n, "%s", fmt.Sprintf(format, args...))
}
