package scim

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"
)

// Filters (RFC 7644 §3.4.2.2) are parsed by github.com/scim2/filter-parser
// and compiled here against the schema, so that an unknown attribute or an
// operator that makes no sense for its type is a 400 invalidFilter before
// anything is read, and evaluation is a closure call per resource.

const (
	maxFilterLen   = 8 << 10
	maxFilterTerms = 100
	maxFilterDepth = 16 // nested parentheses and brackets
)

// checkFilterSize refuses, before any parse, a filter (or path, or
// attribute list entry) longer than maxFilterLen or nesting deeper than
// maxFilterDepth: the parser's cost grows with both (8 KiB of "(" took it
// 300 ms, 64 KiB 5 s) and the term count bounds neither.
func checkFilterSize(raw string) error {
	if len(raw) > maxFilterLen {
		return badRequest(typeInvalidFilter, "filter is longer than %d bytes", maxFilterLen)
	}
	depth, inStr := 0, false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(' || c == '[':
			if depth++; depth > maxFilterDepth {
				return badRequest(typeTooMany, "filter nests deeper than %d levels", maxFilterDepth)
			}
		case c == ')' || c == ']':
			depth--
		}
	}
	return nil
}

// pred decides whether one rendered resource (or, inside a value path, one
// element of a multi-valued attribute) matches.
type pred func(m map[string]any) bool

// scope is what attribute names in a filter refer to: a resource's
// attributes, or the sub-attributes of the complex attribute a value path
// is on.
type scope struct {
	rt  *resourceType
	sub *attr
}

type filterCompiler struct {
	terms int
}

// compileFilter parses and compiles a filter for rt's resources.
func compileFilter(rt *resourceType, raw string) (pred, error) {
	if err := checkFilterSize(raw); err != nil {
		return nil, err
	}
	if !utf8.ValidString(raw) {
		return nil, badRequest(typeInvalidFilter, "filter is not valid UTF-8")
	}
	expr, err := filter.ParseFilter([]byte(raw))
	if err != nil {
		if alt, ok := subValuePath(raw); ok {
			expr, err = filter.ParseFilter([]byte(alt))
		}
	}
	if err != nil {
		return nil, badRequest(typeInvalidFilter, "filter %q does not parse (RFC 7644 §3.4.2.2; strings need double quotes): %v", clip(raw), err)
	}
	c := &filterCompiler{}
	return c.compile(scope{rt: rt}, expr)
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func (c *filterCompiler) compile(sc scope, e filter.Expression) (pred, error) {
	c.terms++
	if c.terms > maxFilterTerms {
		return nil, badRequest(typeTooMany, "filter has more than %d terms; split the query", maxFilterTerms)
	}
	switch x := e.(type) {
	case *filter.LogicalExpression:
		l, err := c.compile(sc, x.Left)
		if err != nil {
			return nil, err
		}
		r, err := c.compile(sc, x.Right)
		if err != nil {
			return nil, err
		}
		if x.Operator == filter.AND {
			return func(m map[string]any) bool { return l(m) && r(m) }, nil
		}
		return func(m map[string]any) bool { return l(m) || r(m) }, nil
	case *filter.NotExpression:
		p, err := c.compile(sc, x.Expression)
		if err != nil {
			return nil, err
		}
		return func(m map[string]any) bool { return !p(m) }, nil
	case *filter.ValuePath:
		if sc.sub != nil {
			return nil, badRequest(typeInvalidFilter, "value paths do not nest (%s)", x.AttributePath)
		}
		get, a, err := resolveFilterPath(sc, x.AttributePath)
		if err != nil {
			return nil, err
		}
		if a.Type != tComplex || x.AttributePath.SubAttribute != nil {
			return nil, badRequest(typeInvalidFilter, "%s: a value filter needs a complex attribute", x.AttributePath)
		}
		inner, err := c.compile(scope{rt: sc.rt, sub: a}, x.ValueFilter)
		if err != nil {
			return nil, err
		}
		return func(m map[string]any) bool {
			for _, v := range get(m) {
				if em, ok := v.(map[string]any); ok && inner(em) {
					return true
				}
			}
			return false
		}, nil
	case *filter.AttributeExpression:
		return compileAttrExpr(sc, x)
	}
	return nil, badRequest(typeInvalidFilter, "unsupported filter expression")
}

// getter returns the values an attribute path reaches in m (flattening a
// multi-valued attribute), nil when absent.
type getter func(m map[string]any) []any

// resolveFilterPath resolves p in sc to a getter and the attribute's
// definition (the sub-attribute's when p names one).
func resolveFilterPath(sc scope, p filter.AttributePath) (getter, *attr, error) {
	name, sub := p.AttributeName, p.SubAttributeName()
	if sc.sub != nil {
		if p.URIPrefix != nil {
			return nil, nil, badRequest(typeInvalidFilter, "%s: no schema URN inside a value filter", p)
		}
		a := sc.sub.sub(name)
		if a == nil {
			return nil, nil, badRequest(typeInvalidFilter, "%s has no sub-attribute %q", sc.sub.Name, name)
		}
		if sub != "" {
			return nil, nil, badRequest(typeInvalidFilter, "%s.%s has no sub-attributes", sc.sub.Name, a.Name)
		}
		key := a.Name
		return func(m map[string]any) []any { return values(m[key]) }, a, nil
	}
	var (
		attrs     []*attr
		container string // "" core, else the extension URN key
	)
	switch uri := p.URI(); {
	case uri == "" || strings.EqualFold(uri, sc.rt.Core.ID):
		attrs = append(append([]*attr{}, sc.rt.Core.Attrs...), commonAttrs...)
	case sc.rt.ext(uri) != nil:
		ext := sc.rt.ext(uri)
		attrs, container = ext.Attrs, ext.ID
	default:
		return nil, nil, badRequest(typeInvalidFilter, "unknown schema %q for %s", uri, sc.rt.Endpoint)
	}
	a := findAttr(attrs, name)
	if a == nil || a.Returned == "never" {
		return nil, nil, badRequest(typeInvalidFilter, "unknown attribute %q for %s", name, sc.rt.Endpoint)
	}
	top := func(m map[string]any) any {
		if container == "" {
			return m[a.Name]
		}
		cm, _ := m[container].(map[string]any)
		return cm[a.Name]
	}
	if sub == "" {
		return func(m map[string]any) []any { return values(top(m)) }, a, nil
	}
	if a.Type != tComplex {
		return nil, nil, badRequest(typeInvalidFilter, "%s has no sub-attributes", a.Name)
	}
	sa := a.sub(sub)
	if sa == nil {
		return nil, nil, badRequest(typeInvalidFilter, "%s has no sub-attribute %q", a.Name, sub)
	}
	key := sa.Name
	return func(m map[string]any) []any {
		var out []any
		for _, e := range values(top(m)) {
			if em, ok := e.(map[string]any); ok {
				out = append(out, values(em[key])...)
			}
		}
		return out
	}, sa, nil
}

func values(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

func compileAttrExpr(sc scope, x *filter.AttributeExpression) (pred, error) {
	get, a, err := resolveFilterPath(sc, x.AttributePath)
	if err != nil {
		return nil, err
	}
	op := filter.CompareOperator(strings.ToLower(string(x.Operator)))
	if op == filter.PR {
		return func(m map[string]any) bool {
			for _, v := range get(m) {
				if present(v) {
					return true
				}
			}
			return false
		}, nil
	}
	// A complex attribute without a sub-attribute compares its "value"
	// (RFC 7644 §3.4.2.2: "emails co …" means the email values).
	if a.Type == tComplex {
		va := a.sub("value")
		if va == nil {
			return nil, badRequest(typeInvalidFilter, "%s is complex; name a sub-attribute", x.AttributePath)
		}
		inner := get
		get = func(m map[string]any) []any {
			var out []any
			for _, e := range inner(m) {
				if em, ok := e.(map[string]any); ok {
					out = append(out, values(em["value"])...)
				}
			}
			return out
		}
		a = va
	}
	if x.CompareValue == nil { // eq null / ne null: absence
		switch op {
		case filter.EQ:
			return func(m map[string]any) bool { return len(get(m)) == 0 }, nil
		case filter.NE:
			return func(m map[string]any) bool { return len(get(m)) > 0 }, nil
		}
		return nil, badRequest(typeInvalidFilter, "%s: only eq and ne compare with null", x.AttributePath)
	}
	cmp, err := comparer(a, op, x.CompareValue, x.AttributePath.String())
	if err != nil {
		return nil, err
	}
	anyMatch := func(m map[string]any) bool {
		for _, v := range get(m) {
			if cmp(v) {
				return true
			}
		}
		return false
	}
	if op == filter.NE { // ne: no value equals (comparer was built for eq)
		return func(m map[string]any) bool { return !anyMatch(m) }, nil
	}
	return anyMatch, nil
}

func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// comparer returns a test of one stored value against the compare value
// (for ne, the eq test: the caller negates it over all values).
func comparer(a *attr, op filter.CompareOperator, cv any, where string) (func(any) bool, error) {
	if op == filter.NE {
		op = filter.EQ
	}
	switch a.Type {
	case tBool:
		want, ok := toBool(cv)
		if !ok {
			return nil, badRequest(typeInvalidFilter, "%s is a boolean; compare it with true or false", where)
		}
		if op != filter.EQ {
			return nil, badRequest(typeInvalidFilter, "%s is a boolean; only eq, ne and pr apply", where)
		}
		return func(v any) bool { b, ok := toBool(v); return ok && b == want }, nil
	case tInteger, tDecimal:
		want, ok := toFloat(cv)
		if !ok {
			return nil, badRequest(typeInvalidFilter, "%s is a number; compare it with a number", where)
		}
		order, ok := ordering(op)
		if !ok {
			return nil, badRequest(typeInvalidFilter, "%s is a number; %s does not apply", where, op)
		}
		return func(v any) bool {
			f, ok := toFloat(v)
			return ok && order(cmp3(f, want))
		}, nil
	case tDateTime:
		s, ok := cv.(string)
		if !ok {
			return nil, badRequest(typeInvalidFilter, "%s is a dateTime; compare it with a quoted RFC 3339 time", where)
		}
		want, err := time.Parse(time.RFC3339Nano, unescape(s))
		if err != nil {
			return nil, badRequest(typeInvalidFilter, "%s is a dateTime; %q is not RFC 3339", where, s)
		}
		order, ok := ordering(op)
		if !ok {
			return nil, badRequest(typeInvalidFilter, "%s is a dateTime; %s does not apply", where, op)
		}
		return func(v any) bool {
			vs, _ := v.(string)
			t, err := time.Parse(time.RFC3339Nano, vs)
			return err == nil && order(t.Compare(want))
		}, nil
	case tComplex:
		return nil, badRequest(typeInvalidFilter, "%s is complex; name a sub-attribute", where)
	}
	// string, reference, binary
	s, ok := cv.(string)
	if !ok {
		return nil, badRequest(typeInvalidFilter, "%s is a string; compare it with a quoted string, not %s", where, describe(cv))
	}
	want := unescape(s)
	fold := func(s string) string { return s }
	if !a.CaseExact {
		fold = UserNameKey // the relation the userName index uses
		want = UserNameKey(want)
	}
	var test func(string) bool
	switch op {
	case filter.EQ:
		test = func(v string) bool { return v == want }
	case filter.CO:
		test = func(v string) bool { return strings.Contains(v, want) }
	case filter.SW:
		test = func(v string) bool { return strings.HasPrefix(v, want) }
	case filter.EW:
		test = func(v string) bool { return strings.HasSuffix(v, want) }
	default:
		order, ok := ordering(op)
		if !ok {
			return nil, badRequest(typeInvalidFilter, "unknown operator %q", op)
		}
		test = func(v string) bool { return order(strings.Compare(v, want)) }
	}
	return func(v any) bool {
		vs, ok := v.(string)
		return ok && test(fold(vs))
	}, nil
}

func ordering(op filter.CompareOperator) (func(int) bool, bool) {
	switch op {
	case filter.EQ:
		return func(c int) bool { return c == 0 }, true
	case filter.GT:
		return func(c int) bool { return c > 0 }, true
	case filter.GE:
		return func(c int) bool { return c >= 0 }, true
	case filter.LT:
		return func(c int) bool { return c < 0 }, true
	case filter.LE:
		return func(c int) bool { return c <= 0 }, true
	}
	return nil, false
}

func cmp3(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// unescape decodes the JSON escapes the parser leaves in a string (it
// returns the text between the quotes verbatim).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return s
	}
	return out
}

// subValuePathRE matches `emails[type eq "work"].value eq "…"`: the form
// of Entra's query when the matching attribute is the work email. RFC
// 7644's grammar has no sub-attribute after a value path in a filter; it
// means `emails[type eq "work" and value eq "…"]`, which is what it is
// rewritten to.
var subValuePathRE = regexp.MustCompile(`^\s*([A-Za-z][\w$-]*)\[(.+)\]\.([A-Za-z][\w$-]*)\s+([A-Za-z]{2})\s+(.+?)\s*$`)

func subValuePath(raw string) (string, bool) {
	m := subValuePathRE.FindStringSubmatch(raw)
	// The value filter grammar has no parentheses; an "or" inside would
	// bind differently once "and" is appended.
	if m == nil || strings.Contains(strings.ToLower(m[2]), " or ") {
		return "", false
	}
	return m[1] + "[" + m[2] + " and " + m[3] + " " + m[4] + " " + m[5] + "]", true
}

// userNameEq recognises `userName eq "…"`, the query Okta and Entra send
// before every create, so that it is answered from the userName index.
func userNameEq(raw string) (string, bool) {
	if name, ok := quickUserNameEq(raw); ok {
		return name, true
	}
	if len(raw) < 12 || !strings.EqualFold(raw[:8], "userName") && !strings.HasPrefix(strings.ToLower(raw), "urn:") {
		return "", false // not worth a parse
	}
	if checkFilterSize(raw) != nil {
		return "", false // compileFilter says why
	}
	expr, err := filter.ParseFilter([]byte(raw))
	if err != nil {
		return "", false
	}
	x, ok := expr.(*filter.AttributeExpression)
	if !ok || x.AttributePath.SubAttribute != nil || !strings.EqualFold(x.AttributePath.AttributeName, "userName") ||
		!strings.EqualFold(string(x.Operator), "eq") {
		return "", false
	}
	if u := x.AttributePath.URI(); u != "" && !strings.EqualFold(u, URNUser) {
		return "", false
	}
	s, ok := x.CompareValue.(string)
	if !ok {
		return "", false
	}
	return unescape(s), true
}

// equalJSON compares two decoded JSON values (numbers by value).
func equalJSON(a, b any) bool {
	fa, aok := toFloat(a)
	fb, bok := toFloat(b)
	if aok && bok {
		return fa == fb
	}
	return reflect.DeepEqual(a, b)
}
