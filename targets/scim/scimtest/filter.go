package scimtest

import (
	"errors"
	"strings"
)

// filter is a parsed SCIM filter (RFC 7644 §3.4.2.2): comparisons joined by
// "and" / "or" (and binds tighter), optionally negated with "not ( )" — the
// subset Entra, Okta and idsync send.
type filter interface {
	match(res map[string]any) bool
}

type cmpFilter struct {
	path, op, value string
	isNull          bool
}

type andFilter []filter
type orFilter []filter
type notFilter struct{ f filter }

func (f andFilter) match(r map[string]any) bool {
	for _, x := range f {
		if !x.match(r) {
			return false
		}
	}
	return true
}

func (f orFilter) match(r map[string]any) bool {
	for _, x := range f {
		if x.match(r) {
			return true
		}
	}
	return false
}

func (f notFilter) match(r map[string]any) bool { return !f.f.match(r) }

// caseExact attributes compare exactly (RFC 7643: id, externalId); the rest
// compare case-insensitively, as workspaces do for userName and emails.
func caseExact(path string) bool {
	p := strings.ToLower(path)
	return p == "id" || p == "externalid" || strings.HasSuffix(p, ":externalid")
}

func (f cmpFilter) match(r map[string]any) bool {
	vals, present := values(r, f.path)
	if f.op == "pr" {
		return present
	}
	want := f.value
	fold := !caseExact(f.path)
	for _, v := range vals {
		got := v
		if fold {
			got, want = strings.ToLower(got), strings.ToLower(want)
		}
		switch f.op {
		case "eq":
			if got == want {
				return true
			}
		case "ne":
			if got != want {
				return true
			}
		case "co":
			if strings.Contains(got, want) {
				return true
			}
		case "sw":
			if strings.HasPrefix(got, want) {
				return true
			}
		case "ew":
			if strings.HasSuffix(got, want) {
				return true
			}
		case "gt":
			if got > want {
				return true
			}
		case "ge":
			if got >= want {
				return true
			}
		case "lt":
			if got < want {
				return true
			}
		case "le":
			if got <= want {
				return true
			}
		}
	}
	return f.op == "ne" && len(vals) == 0
}

var errFilter = errors.New("invalid filter")

func parseFilter(s string) (filter, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, errFilter
	}
	return f, nil
}

type parser struct {
	toks []string
	i    int
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *parser) or() (filter, error) {
	var fs orFilter
	for {
		f, err := p.and()
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
		if !strings.EqualFold(p.peek(), "or") {
			break
		}
		p.i++
	}
	if len(fs) == 1 {
		return fs[0], nil
	}
	return fs, nil
}

func (p *parser) and() (filter, error) {
	var fs andFilter
	for {
		f, err := p.term()
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
		if !strings.EqualFold(p.peek(), "and") {
			break
		}
		p.i++
	}
	if len(fs) == 1 {
		return fs[0], nil
	}
	return fs, nil
}

func (p *parser) term() (filter, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, errFilter
	case strings.EqualFold(t, "not"):
		p.i++
		f, err := p.term()
		return notFilter{f}, err
	case t == "(":
		p.i++
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, errFilter
		}
		p.i++
		return f, nil
	}
	p.i++
	op := strings.ToLower(p.peek())
	p.i++
	switch op {
	case "pr":
		return cmpFilter{path: t, op: op}, nil
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
	default:
		return nil, errFilter
	}
	v := p.peek()
	if v == "" {
		return nil, errFilter
	}
	p.i++
	c := cmpFilter{path: t, op: op}
	switch {
	case strings.HasPrefix(v, `"`):
		c.value = unquote(v)
	case v == "null":
		c.isNull = true
	default:
		c.value = v // true, false, numbers
	}
	return c, nil
}

func unquote(v string) string {
	v = strings.TrimPrefix(v, `"`)
	v = strings.TrimSuffix(v, `"`)
	return strings.ReplaceAll(v, `\"`, `"`)
}

// tokenize splits a filter on spaces and parentheses, keeping quoted strings
// and bracketed value filters (emails[type eq "work"].value) whole.
func tokenize(s string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	inQuote, depth := false, 0
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			cur.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
			cur.WriteByte(c)
		case c == '[':
			depth++
			cur.WriteByte(c)
		case c == ']':
			depth--
			cur.WriteByte(c)
		case depth > 0:
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			flush()
		case c == '(' || c == ')':
			flush()
			toks = append(toks, string(c))
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote || depth != 0 {
		return nil, errFilter
	}
	flush()
	return toks, nil
}

// attrPath is a parsed SCIM attribute path: [urn:]name[filter][.sub].
type attrPath struct {
	urn, name, filter, sub string
}

func parsePath(p string) attrPath {
	var a attrPath
	head := p
	if i := strings.IndexByte(p, '['); i >= 0 {
		head = p[:i]
	}
	if strings.HasPrefix(strings.ToLower(head), "urn:") {
		if i := strings.LastIndexByte(head, ':'); i >= 0 {
			a.urn = p[:i]
			p = p[i+1:]
		}
	}
	if i := strings.IndexByte(p, '['); i >= 0 {
		if j := strings.LastIndexByte(p, ']'); j > i {
			a.filter = p[i+1 : j]
			rest := p[j+1:]
			p = p[:i]
			a.sub = strings.TrimPrefix(rest, ".")
		}
	}
	if a.filter == "" {
		if i := strings.IndexByte(p, '.'); i >= 0 {
			a.sub = p[i+1:]
			p = p[:i]
		}
	}
	a.name = p
	return a
}

// container returns the map the path's attribute lives in: the resource
// itself, or its extension object. create adds a missing extension.
func container(res map[string]any, urn string, create bool) map[string]any {
	if urn == "" || strings.EqualFold(urn, SchemaUser) || strings.EqualFold(urn, SchemaGroup) {
		return res
	}
	for k, v := range res {
		if strings.EqualFold(k, urn) {
			m, _ := v.(map[string]any)
			return m
		}
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	res[urn] = m
	addSchema(res, urn)
	return m
}

func addSchema(res map[string]any, urn string) {
	schemas, _ := res["schemas"].([]any)
	for _, s := range schemas {
		if strings.EqualFold(str(s), urn) {
			return
		}
	}
	res["schemas"] = append(schemas, urn)
}

// getKey looks a key up case-insensitively (SCIM attribute names are).
func getKey(m map[string]any, name string) (string, any, bool) {
	if v, ok := m[name]; ok {
		return name, v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return name, nil, false
}

// values returns the string values at path in res, and whether any exist.
func values(res map[string]any, path string) ([]string, bool) {
	a := parsePath(path)
	c := container(res, a.urn, false)
	if c == nil {
		return nil, false
	}
	_, v, ok := getKey(c, a.name)
	if !ok || v == nil {
		return nil, false
	}
	var out []string
	switch v := v.(type) {
	case []any:
		var sub filter
		if a.filter != "" {
			f, err := parseFilter(a.filter)
			if err != nil {
				return nil, false
			}
			sub = f
		}
		for _, e := range v {
			m, isMap := e.(map[string]any)
			if sub != nil && (!isMap || !sub.match(m)) {
				continue
			}
			switch {
			case isMap && a.sub != "":
				if _, x, ok := getKey(m, a.sub); ok {
					out = append(out, str(x))
				}
			case isMap:
				if _, x, ok := getKey(m, "value"); ok {
					out = append(out, str(x))
				}
			default:
				out = append(out, str(e))
			}
		}
	case map[string]any:
		if a.sub == "" {
			return nil, true
		}
		if _, x, ok := getKey(v, a.sub); ok && x != nil {
			out = append(out, str(x))
		}
	default:
		if a.sub != "" {
			return nil, false
		}
		out = append(out, str(v))
	}
	return out, len(out) > 0
}
