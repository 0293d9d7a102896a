package scim

import (
	"net/http"
	"net/url"
	"strings"
)

// Discovery endpoints (RFC 7644 §4): what this listener supports, said
// honestly so that a client that reads them is not surprised.

func (h *handler) discovery(w http.ResponseWriter, r *http.Request, ok bool, body func() any) {
	if !ok {
		h.writeError(w, r, &apiError{Status: http.StatusNotFound, Detail: "no such endpoint: " + r.URL.Path})
		return
	}
	if r.Method != http.MethodGet {
		h.notAllowed(w, r, "GET")
		return
	}
	writeJSON(w, http.StatusOK, body())
}

func (h *handler) serviceProviderConfig() any {
	return map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/idsync/idsync#scim-push-listener-what-it-accepts",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "Bearer token",
			"description": "A token from `idsync token create CONNECTION`, sent as Authorization: Bearer TOKEN",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": h.base + "/ServiceProviderConfig"},
	}
}

func (h *handler) resourceTypeJSON(rt *resourceType) map[string]any {
	exts := []any{}
	for _, e := range rt.Extensions {
		exts = append(exts, map[string]any{"schema": e.ID, "required": false})
	}
	m := map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
		"id":          string(rt.Kind),
		"name":        string(rt.Kind),
		"endpoint":    rt.Endpoint,
		"description": rt.Desc,
		"schema":      rt.Core.ID,
		"meta":        map[string]any{"resourceType": "ResourceType", "location": h.base + "/ResourceTypes/" + string(rt.Kind)},
	}
	if len(exts) > 0 {
		m["schemaExtensions"] = exts
	}
	return m
}

func (h *handler) resourceTypes(w http.ResponseWriter, r *http.Request, rest []string) {
	all := []*resourceType{userType, groupType}
	if len(rest) == 1 {
		for _, rt := range all {
			if strings.EqualFold(rest[0], string(rt.Kind)) {
				h.discovery(w, r, true, func() any { return h.resourceTypeJSON(rt) })
				return
			}
		}
		h.writeError(w, r, &apiError{Status: http.StatusNotFound, Detail: "no resource type " + rest[0] + "; there are User and Group"})
		return
	}
	h.discovery(w, r, len(rest) == 0, func() any {
		var res []any
		for _, rt := range all {
			res = append(res, h.resourceTypeJSON(rt))
		}
		return listOf(res)
	})
}

func (h *handler) schemas(w http.ResponseWriter, r *http.Request, rest []string) {
	all := []*schemaDef{userSchema, enterpriseSchema, groupSchema}
	if len(rest) == 1 {
		id, err := url.PathUnescape(rest[0])
		if err != nil {
			id = rest[0]
		}
		for _, s := range all {
			if strings.EqualFold(id, s.ID) {
				h.discovery(w, r, true, func() any { return h.schemaJSON(s) })
				return
			}
		}
		h.writeError(w, r, &apiError{Status: http.StatusNotFound, Detail: "no schema " + id})
		return
	}
	h.discovery(w, r, len(rest) == 0, func() any {
		var res []any
		for _, s := range all {
			res = append(res, h.schemaJSON(s))
		}
		return listOf(res)
	})
}

func listOf(res []any) map[string]any {
	return map[string]any{
		"schemas":      []string{schemaListResponse},
		"totalResults": len(res),
		"startIndex":   1,
		"itemsPerPage": len(res),
		"Resources":    res,
	}
}

func (h *handler) schemaJSON(s *schemaDef) map[string]any {
	attrs := []any{}
	for _, a := range s.Attrs {
		attrs = append(attrs, attrJSON(a))
	}
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Schema"},
		"id":          s.ID,
		"name":        s.Name,
		"description": s.Desc,
		"attributes":  attrs,
		"meta":        map[string]any{"resourceType": "Schema", "location": h.base + "/Schemas/" + s.ID},
	}
}

func attrJSON(a *attr) map[string]any {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	m := map[string]any{
		"name":        a.Name,
		"type":        string(a.Type),
		"multiValued": a.Multi,
		"description": a.Desc,
		"required":    a.Required,
		"caseExact":   a.CaseExact,
		"mutability":  or(a.Mutability, "readWrite"),
		"returned":    or(a.Returned, "default"),
		"uniqueness":  or(a.Unique, "none"),
	}
	if len(a.RefTypes) > 0 {
		m["referenceTypes"] = a.RefTypes
	}
	if len(a.Sub) > 0 {
		subs := []any{}
		for _, s := range a.Sub {
			subs = append(subs, attrJSON(s))
		}
		m["subAttributes"] = subs
	}
	return m
}
