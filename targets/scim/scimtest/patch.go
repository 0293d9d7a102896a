package scimtest

import (
	"fmt"
	"strings"
)

// patchOp is one PATCH operation. Op is matched case-insensitively because
// Entra sends "Replace"/"Add"/"Remove".
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// applyPatch applies ops to res in place. Callers pass a copy so a failing
// op leaves the stored resource untouched (PATCH is atomic, RFC 7644 §3.5.2).
func applyPatch(res map[string]any, ops []patchOp) *scimError {
	for i, o := range ops {
		var err *scimError
		switch strings.ToLower(o.Op) {
		case "add", "replace":
			if o.Path == "" {
				m, ok := o.Value.(map[string]any)
				if !ok {
					return badRequest("invalidValue", fmt.Sprintf("operation %d: %s without path needs an object value", i, o.Op))
				}
				for k, v := range m {
					if err = setPath(res, k, v, strings.ToLower(o.Op)); err != nil {
						break
					}
				}
			} else {
				err = setPath(res, o.Path, o.Value, strings.ToLower(o.Op))
			}
		case "remove":
			if o.Path == "" {
				return badRequest("noTarget", fmt.Sprintf("operation %d: remove needs a path", i))
			}
			err = removePath(res, o.Path, o.Value)
		default:
			return badRequest("invalidSyntax", fmt.Sprintf("operation %d: unknown op %q", i, o.Op))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func setPath(res map[string]any, path string, value any, op string) *scimError {
	a := parsePath(path)
	// A path-less value may carry a whole extension: {"urn:...:User": {...}}.
	if strings.HasPrefix(strings.ToLower(path), "urn:") && a.filter == "" && a.sub == "" {
		if m, ok := value.(map[string]any); ok && isSchemaURN(path) {
			c := container(res, path, true)
			for k, v := range m {
				c[k] = v
			}
			return nil
		}
	}
	c := container(res, a.urn, true)
	key, cur, _ := getKey(c, a.name)
	if strings.EqualFold(a.name, "active") {
		// Entra sends "True"/"False" strings.
		if s, ok := value.(string); ok {
			value = strings.EqualFold(s, "true")
		}
	}
	if a.filter == "" {
		if a.sub != "" {
			m, _ := cur.(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			sk, _, _ := getKey(m, a.sub)
			m[sk] = value
			c[key] = m
			return nil
		}
		switch cv := cur.(type) {
		case []any:
			if op == "add" {
				c[key] = appendUnique(cv, value)
				return nil
			}
		case map[string]any:
			if vm, ok := value.(map[string]any); ok {
				for k, v := range vm {
					sk, _, _ := getKey(cv, k)
					cv[sk] = v
				}
				return nil
			}
		}
		if l, ok := value.([]any); ok && len(l) > 0 {
			markPrimary(l)
		}
		c[key] = value
		return nil
	}
	f, err := parseFilter(a.filter)
	if err != nil {
		return badRequest("invalidFilter", "bad value filter in path "+path)
	}
	list, _ := cur.([]any)
	matched := false
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok || !f.match(m) {
			continue
		}
		matched = true
		setElem(m, a.sub, value)
	}
	if !matched {
		// Entra replaces emails[type eq "work"].value on users that have no
		// work email yet: the element is created from the filter.
		m := map[string]any{}
		if cf, ok := f.(cmpFilter); ok && cf.op == "eq" {
			var v any = cf.value
			if cf.value == "true" || cf.value == "false" {
				v = cf.value == "true"
			}
			m[cf.path] = v
		}
		setElem(m, a.sub, value)
		list = append(list, m)
	}
	c[key] = list
	return nil
}

func setElem(m map[string]any, sub string, value any) {
	if sub != "" {
		sk, _, _ := getKey(m, sub)
		m[sk] = value
		return
	}
	if vm, ok := value.(map[string]any); ok {
		for k, v := range vm {
			m[k] = v
		}
	}
}

// markPrimary keeps at most one primary element in a multi-valued attribute.
func markPrimary(l []any) {
	seen := false
	for _, e := range l {
		if m, ok := e.(map[string]any); ok && m["primary"] == true {
			if seen {
				m["primary"] = false
			}
			seen = true
		}
	}
}

func appendUnique(list []any, value any) []any {
	add, ok := value.([]any)
	if !ok {
		add = []any{value}
	}
	have := map[string]bool{}
	for _, e := range list {
		if v := elemValue(e); v != "" {
			have[v] = true
		}
	}
	for _, e := range add {
		v := elemValue(e)
		if v != "" && have[v] {
			continue
		}
		have[v] = true
		list = append(list, e)
	}
	return list
}

func elemValue(e any) string {
	if m, ok := e.(map[string]any); ok {
		return str(m["value"])
	}
	return str(e)
}

func removePath(res map[string]any, path string, value any) *scimError {
	a := parsePath(path)
	c := container(res, a.urn, false)
	if c == nil {
		return nil
	}
	key, cur, ok := getKey(c, a.name)
	if !ok {
		return nil
	}
	if a.filter == "" {
		switch {
		case a.sub != "":
			if m, ok := cur.(map[string]any); ok {
				sk, _, _ := getKey(m, a.sub)
				delete(m, sk)
			}
		case value != nil:
			// Entra's member removal: {"op":"Remove","path":"members","value":[{"value":"id"}]}.
			list, _ := cur.([]any)
			drop := map[string]bool{}
			vals, isList := value.([]any)
			if !isList {
				vals = []any{value}
			}
			for _, v := range vals {
				drop[elemValue(v)] = true
			}
			var keep []any
			for _, e := range list {
				if !drop[elemValue(e)] {
					keep = append(keep, e)
				}
			}
			if keep == nil {
				keep = []any{}
			}
			c[key] = keep
		default:
			delete(c, key)
		}
		return nil
	}
	f, err := parseFilter(a.filter)
	if err != nil {
		return badRequest("invalidFilter", "bad value filter in path "+path)
	}
	list, _ := cur.([]any)
	keep := []any{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if ok && f.match(m) {
			if a.sub != "" {
				sk, _, _ := getKey(m, a.sub)
				delete(m, sk)
				keep = append(keep, m)
			}
			continue
		}
		keep = append(keep, e)
	}
	c[key] = keep
	return nil
}

// isSchemaURN tells a schema URN ("...:2.0:User") from an attribute path in
// one ("...:2.0:User:department"): schema names are capitalised, attribute
// names are not.
func isSchemaURN(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || i+1 >= len(s) {
		return false
	}
	c := s[i+1]
	return c >= 'A' && c <= 'Z'
}
