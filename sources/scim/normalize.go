package scim

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// normalizeBody turns a POST/PUT body into the stored attribute map:
// names in their schema spelling, values type-checked (with the senders'
// coercions: "True"/"False" strings for booleans, a bare string for the
// manager), nulls and empty arrays dropped. Read-only attributes (id, meta,
// groups) are ignored as RFC 7644 §3.5.1 says; attributes no schema
// defines are dropped (RFC 7644 §3.3 lets the service provider ignore
// them; the Microsoft collection PUTs a misspelled one and expects 200);
// password is discarded, never stored. Extension objects under a URN this
// listener does not know are kept verbatim.
func normalizeBody(rt *resourceType, body map[string]any) (map[string]any, error) {
	out := map[string]any{}
	seen := map[string]string{}
	for k, v := range body {
		lk := strings.ToLower(k)
		if prev, dup := seen[lk]; dup {
			return nil, badRequest(typeInvalidSyntax, "attribute %q given twice (as %q and %q)", k, prev, k)
		}
		seen[lk] = k
		switch {
		case lk == "schemas":
			if err := checkSchemas(v); err != nil {
				return nil, err
			}
		case strings.HasPrefix(lk, "urn:"):
			if strings.EqualFold(k, rt.Core.ID) {
				obj, ok := v.(map[string]any)
				if !ok {
					return nil, badRequest(typeInvalidValue, "%s: must be an object", k)
				}
				inner, err := normalizeBody(rt, obj)
				if err != nil {
					return nil, err
				}
				// The same attribute at the top level too: which one
				// ended up stored would depend on map order.
				for ik, iv := range inner {
					lik := strings.ToLower(ik)
					if prev, dup := seen[lik]; dup {
						return nil, badRequest(typeInvalidSyntax, "attribute %q given twice (as %q and inside %s)", ik, prev, k)
					}
					seen[lik] = k + ":" + ik
					out[ik] = iv
				}
				continue
			}
			if ext := rt.ext(k); ext != nil {
				nv, err := normalizeObject(ext.ID, ext.Attrs, v, true)
				if err != nil {
					return nil, err
				}
				if nv != nil {
					out[ext.ID] = nv
				}
				continue
			}
			if v == nil {
				continue
			}
			if _, ok := v.(map[string]any); !ok {
				return nil, badRequest(typeInvalidValue, "%s: an extension must be an object", k)
			}
			out[k] = v
		default:
			a := findAttr(rt.Core.Attrs, k)
			if a == nil || a.Mutability == "readOnly" || a.Mutability == "writeOnly" {
				if a == nil && findAttr(commonAttrs, k) == attrExternalID {
					a = attrExternalID
				} else {
					continue
				}
			}
			nv, err := normalizeValue(a.Name, a, v, true)
			if err != nil {
				return nil, err
			}
			if nv != nil {
				out[a.Name] = nv
			}
		}
	}
	return out, nil
}

func checkSchemas(v any) error {
	arr, ok := v.([]any)
	if !ok {
		return badRequest(typeInvalidValue, "schemas: must be an array of URNs")
	}
	for _, s := range arr {
		if _, ok := s.(string); !ok {
			return badRequest(typeInvalidValue, "schemas: must be an array of URNs")
		}
	}
	return nil
}

// normalizeValue checks v against a and returns it in stored form; nil
// means absent. where names the attribute in error messages. dropReadOnly
// skips read-only sub-attributes (a body); a PATCH refuses them earlier.
func normalizeValue(where string, a *attr, v any, dropReadOnly bool) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.Multi {
		arr, ok := v.([]any)
		if !ok {
			arr = []any{v} // one value where a list belongs: a list of one
		}
		out := make([]any, 0, len(arr))
		for i, e := range arr {
			ne, err := normalizeSingle(fmt.Sprintf("%s[%d]", where, i), a, e, dropReadOnly)
			if err != nil {
				return nil, err
			}
			if ne != nil {
				out = append(out, ne)
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return normalizeSingle(where, a, v, dropReadOnly)
}

func normalizeSingle(where string, a *attr, v any, dropReadOnly bool) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch a.Type {
	case tString, tReference, tBinary:
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(typeInvalidValue, "%s: must be a string, got %s", where, describe(v))
		}
		return s, nil
	case tDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(typeInvalidValue, "%s: must be a dateTime string, got %s", where, describe(v))
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, badRequest(typeInvalidValue, "%s: %q is not an RFC 3339 dateTime", where, s)
		}
		return s, nil
	case tBool:
		b, ok := toBool(v)
		if !ok {
			return nil, badRequest(typeInvalidValue, "%s: must be a boolean, got %s", where, describe(v))
		}
		return b, nil
	case tInteger, tDecimal:
		f, ok := toFloat(v)
		if !ok || (a.Type == tInteger && f != math.Trunc(f)) {
			return nil, badRequest(typeInvalidValue, "%s: must be a%s number, got %s", where, map[bool]string{true: "n integer", false: ""}[a.Type == tInteger], describe(v))
		}
		return v, nil
	case tAny:
		return cloneJSON(v), nil
	case tComplex:
		if s, ok := v.(string); ok && a.ValueString {
			v = map[string]any{"value": s}
		}
		return normalizeObject(where, a.Sub, v, dropReadOnly)
	}
	return nil, badRequest(typeInvalidValue, "%s: unsupported attribute type", where)
}

// normalizeObject normalizes a complex value (or an extension object)
// against its sub-attributes; unknown sub-attributes are dropped.
func normalizeObject(where string, subs []*attr, v any, dropReadOnly bool) (any, error) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest(typeInvalidValue, "%s: must be an object, got %s", where, describe(v))
	}
	out := map[string]any{}
	seen := map[string]string{}
	for k, sv := range obj {
		lk := strings.ToLower(k)
		if prev, dup := seen[lk]; dup {
			return nil, badRequest(typeInvalidSyntax, "%s: attribute %q given twice (as %q and %q)", where, k, prev, k)
		}
		seen[lk] = k
		sa := findAttr(subs, k)
		if sa == nil || (dropReadOnly && sa.Mutability == "readOnly") || sa.Mutability == "writeOnly" {
			continue
		}
		nv, err := normalizeValue(where+"."+sa.Name, sa, sv, dropReadOnly)
		if err != nil {
			return nil, err
		}
		if nv != nil {
			out[sa.Name] = nv
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// toBool accepts a JSON boolean or the strings Entra sends ("True",
// "False", any case).
func toBool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// describe names a JSON value's type (and a short value) for error details.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case json.Number, float64, int, int64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// checkRequired refuses a resource without its required attributes.
func checkRequired(rt *resourceType, attrs map[string]any) error {
	for _, a := range rt.Core.Attrs {
		if !a.Required {
			continue
		}
		if s, ok := attrs[a.Name].(string); !ok || strings.TrimSpace(s) == "" {
			return badRequest(typeInvalidValue, "%s is required", a.Name)
		}
	}
	return nil
}
