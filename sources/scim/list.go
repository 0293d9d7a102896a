package scim

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// list answers GET /Users and GET /Groups (RFC 7644 §3.4.2): filter,
// startIndex/count paging over the store's stable id order, projection.
func (h *handler) list(w http.ResponseWriter, r *http.Request, rt *resourceType) {
	q := r.URL.Query()
	startIndex, err := intParam(q, "startIndex", 1)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if startIndex < 1 {
		startIndex = 1 // RFC 7644 §3.4.2.4: less than 1 means 1
	}
	count, err := intParam(q, "count", defaultCount)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	count = max(0, min(count, maxCount)) // negative means 0
	proj, err := parseProjection(rt, q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if sb := q.Get("sortBy"); sb != "" {
		h.writeError(w, r, badRequest(typeInvalidValue, "sortBy is not supported (ServiceProviderConfig sort.supported is false)"))
		return
	}
	raw := strings.TrimSpace(q.Get("filter"))
	if !utf8.ValidString(raw) {
		h.writeError(w, r, badRequest(typeInvalidFilter, "filter is not valid UTF-8"))
		return
	}
	name, byName := userNameEq(raw)
	byName = byName && rt.Kind == KindUser
	var match pred
	if raw != "" && !byName {
		if match, err = compileFilter(rt, raw); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	page := []any{}
	total := 0
	take := func(res *Resource) {
		total++
		if total >= startIndex && len(page) < count {
			page = append(page, proj.apply(h.render(rt, res)))
		}
	}
	if byName {
		// The lookup Okta and Entra make before each create.
		res, err := h.repo.ByUserName(r.Context(), name)
		switch {
		case err == nil:
			take(res)
		case !errors.Is(err, ErrNotFound):
			h.writeError(w, r, err)
			return
		}
	} else {
		err = h.repo.Scan(r.Context(), rt.Kind, func(res *Resource) bool {
			if match == nil || match(h.render(rt, res)) {
				take(res)
			}
			return true
		})
		if err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{schemaListResponse},
		"totalResults": total,
		"startIndex":   startIndex,
		"itemsPerPage": len(page),
		"Resources":    page,
	})
}

func intParam(q url.Values, name string, def int) (int, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badRequest(typeInvalidValue, "%s must be an integer, got %q", name, clip(s))
	}
	return n, nil
}

// projection is the attributes / excludedAttributes of a request (RFC
// 7644 §3.4.2.5): keys are "container\x00attr" or "container\x00attr.sub"
// with container "" for the core schema.
type projection struct {
	include, exclude map[string]bool
}

func parseProjection(rt *resourceType, q url.Values) (projection, error) {
	var p projection
	var err error
	if p.include, err = projectionSet(rt, "attributes", q.Get("attributes")); err != nil {
		return p, err
	}
	if p.exclude, err = projectionSet(rt, "excludedAttributes", q.Get("excludedAttributes")); err != nil {
		return p, err
	}
	return p, nil
}

// projectionSet parses a comma-separated attribute list. A value filter
// on an entry (the Microsoft collection sends attributes=emails[type eq
// "work"]) selects the whole attribute; names no schema defines are
// ignored, as a projection cannot make a response wrong.
// An entry with a value filter goes through the filter parser, so the
// list is bounded like a filter (a 330 KB list took 1.5 s of CPU).
func projectionSet(rt *resourceType, param, list string) (map[string]bool, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	items := strings.Split(list, ",")
	if len(list) > maxFilterLen || len(items) > maxFilterTerms {
		return nil, badRequest(typeTooMany, "%s lists more than %d attributes or is longer than %d bytes", param, maxFilterTerms, maxFilterLen)
	}
	set := map[string]bool{}
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if ext := rt.ext(item); ext != nil {
			set[ext.ID+"\x00"] = true
			continue
		}
		p, err := parsePath(item)
		if err != nil {
			return nil, badRequest(typeInvalidValue, "attribute list entry %q is not an attribute path: %v", clip(item), err)
		}
		container := ""
		attrs := append(append([]*attr{}, rt.Core.Attrs...), commonAttrs...)
		switch uri := p.AttributePath.URI(); {
		case uri == "" || strings.EqualFold(uri, rt.Core.ID):
		case rt.ext(uri) != nil:
			container, attrs = rt.ext(uri).ID, rt.ext(uri).Attrs
		default:
			continue
		}
		a := findAttr(attrs, p.AttributePath.AttributeName)
		if a == nil {
			continue
		}
		key := container + "\x00" + a.Name
		if sub := p.AttributePath.SubAttributeName(); sub != "" && p.ValueExpression == nil {
			if sa := a.sub(sub); sa != nil {
				key += "." + sa.Name
			}
		}
		set[key] = true
	}
	return set, nil
}

// apply trims a rendered resource. id, schemas and meta are always
// returned (RFC 7643 "returned": "always" for id; schemas and meta tell
// the client what it is looking at).
func (p projection) apply(m map[string]any) map[string]any {
	if p.include == nil && p.exclude == nil {
		return m
	}
	out := map[string]any{"id": m["id"], "schemas": m["schemas"], "meta": m["meta"]}
	for k, v := range m {
		if k == "id" || k == "schemas" || k == "meta" {
			continue
		}
		if strings.HasPrefix(k, "urn:") {
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if kept := p.keep(k, obj); len(kept) > 0 {
				out[k] = kept
			}
			continue
		}
		if kv, ok := p.keepAttr("", k, v); ok {
			out[k] = kv
		}
	}
	return out
}

func (p projection) keep(container string, obj map[string]any) map[string]any {
	out := map[string]any{}
	whole := p.include[container+"\x00"]
	if p.exclude[container+"\x00"] {
		return nil
	}
	for k, v := range obj {
		if whole && !p.exclude[container+"\x00"+k] {
			out[k] = v
			continue
		}
		if kv, ok := p.keepAttr(container, k, v); ok {
			out[k] = kv
		}
	}
	return out
}

// keepAttr decides one attribute (and, for a complex one named only by
// some sub-attributes, which of them).
func (p projection) keepAttr(container, name string, v any) (any, bool) {
	key := container + "\x00" + name
	if p.exclude[key] {
		return nil, false
	}
	if p.include != nil && !p.include[key] {
		subs := p.subKeys(p.include, key)
		if len(subs) == 0 {
			return nil, false
		}
		return filterSubs(v, func(s string) bool { return subs[s] }), true
	}
	if subs := p.subKeys(p.exclude, key); len(subs) > 0 {
		return filterSubs(v, func(s string) bool { return !subs[s] }), true
	}
	return v, true
}

func (p projection) subKeys(set map[string]bool, key string) map[string]bool {
	var subs map[string]bool
	for k := range set {
		if s, ok := strings.CutPrefix(k, key+"."); ok {
			if subs == nil {
				subs = map[string]bool{}
			}
			subs[s] = true
		}
	}
	return subs
}

func filterSubs(v any, keep func(string) bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if keep(k) {
				out[k] = e
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, filterSubs(e, keep))
		}
		return out
	}
	return v
}
