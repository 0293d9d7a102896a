package oktatest

import (
	"fmt"
	"strings"
	"time"
)

// expr is a parsed Okta filter or search expression (the SCIM-like grammar
// of https://developer.okta.com/docs/api/#filter): attr op "value", pr,
// and/or/not and parentheses.
type expr interface {
	eval(get func(attr string) (string, bool)) bool
}

type cmpExpr struct {
	attr, op, val string
}

type boolExpr struct {
	and  bool
	l, r expr
}

type notExpr struct{ e expr }

func (e notExpr) eval(get func(string) (string, bool)) bool { return !e.e.eval(get) }

func (e boolExpr) eval(get func(string) (string, bool)) bool {
	if e.and {
		return e.l.eval(get) && e.r.eval(get)
	}
	return e.l.eval(get) || e.r.eval(get)
}

func (e cmpExpr) eval(get func(string) (string, bool)) bool {
	v, ok := get(e.attr)
	if e.op == "pr" {
		return ok && v != ""
	}
	if !ok {
		return e.op == "ne"
	}
	if strings.Contains(v, "\x00") {
		for _, one := range strings.Split(v, "\x00") {
			if (cmpExpr{attr: e.attr, op: e.op, val: e.val}).eval(func(string) (string, bool) { return one, true }) {
				return true
			}
		}
		return false
	}
	c := compare(v, e.val)
	switch e.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "sw":
		return strings.HasPrefix(strings.ToLower(v), strings.ToLower(e.val))
	case "ew":
		return strings.HasSuffix(strings.ToLower(v), strings.ToLower(e.val))
	case "co":
		return strings.Contains(strings.ToLower(v), strings.ToLower(e.val))
	}
	return false
}

// compare orders timestamps as times (Okta accepts second or millisecond
// precision in filters) and everything else as case-insensitive strings.
func compare(a, b string) int {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	if errA == nil && errB == nil {
		return ta.Compare(tb)
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

// mentions reports whether e contains attr eq val anywhere; Okta lists
// DEPROVISIONED users in a filter only when the filter asks for them.
func mentions(e expr, attr, val string) bool {
	switch e := e.(type) {
	case cmpExpr:
		return e.attr == attr && e.op == "eq" && strings.EqualFold(e.val, val)
	case boolExpr:
		return mentions(e.l, attr, val) || mentions(e.r, attr, val)
	case notExpr:
		return mentions(e.e, attr, val)
	}
	return false
}

var ops = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true, "sw": true, "ew": true, "co": true, "pr": true}

// parseExpr parses s, accepting only the attributes in allowed (nil: any),
// and answers errors the way Okta does: E0000031 Invalid search/filter.
func parseExpr(s string, allowed map[string]bool) (expr, error) {
	p := &parser{toks: tokenize(s), allowed: allowed}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i])
	}
	return e, nil
}

type parser struct {
	toks    []string
	i       int
	allowed map[string]bool
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	p.i++
	return t
}

func (p *parser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for strings.EqualFold(p.peek(), "or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = boolExpr{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for strings.EqualFold(p.peek(), "and") {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = boolExpr{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary() (expr, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.next()
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	}
	if p.peek() == "(" {
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		return e, nil
	}
	attr := p.next()
	if attr == "" || attr == ")" {
		return nil, fmt.Errorf("missing attribute")
	}
	if p.allowed != nil && !p.allowed[attr] && !(p.allowed["profile.*"] && strings.HasPrefix(attr, "profile.")) {
		return nil, fmt.Errorf("unsupported attribute %q", attr)
	}
	op := strings.ToLower(p.next())
	if !ops[op] {
		return nil, fmt.Errorf("unsupported operator %q", op)
	}
	if op == "pr" {
		return cmpExpr{attr: attr, op: op}, nil
	}
	v := p.next()
	if v == "" {
		return nil, fmt.Errorf("missing value for %s", attr)
	}
	if strings.HasPrefix(v, `"`) {
		v = strings.TrimSuffix(strings.TrimPrefix(v, `"`), `"`)
	}
	return cmpExpr{attr: attr, op: op, val: v}, nil
}

func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				j = len(s) - 1
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '(' && s[j] != ')' && s[j] != '\t' {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}
