package scimtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

const basePath = "/scim/v2"

// scimError is an RFC 7644 §3.12 error response.
type scimError struct {
	status   int
	scimType string
	detail   string
}

func badRequest(scimType, detail string) *scimError {
	return &scimError{status: http.StatusBadRequest, scimType: scimType, detail: detail}
}

func notFound(kind, id string) *scimError {
	return &scimError{status: http.StatusNotFound, detail: fmt.Sprintf("%s %s not found", strings.TrimSuffix(kind, "s"), id)}
}

func writeError(w http.ResponseWriter, e *scimError) {
	body := map[string]any{"schemas": []string{schemaError}, "status": strconv.Itoa(e.status), "detail": e.detail}
	if e.scimType != "" {
		body["scimType"] = e.scimType
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) routes() http.Handler {
	return http.HandlerFunc(s.serve)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	hdr := r.Header.Clone()
	hdr.Del("Authorization")
	entry := Request{Time: time.Now(), Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, basePath), Query: r.URL.RawQuery, Body: body, Header: hdr}

	s.mu.Lock()
	f := s.pickFault(r.Method)
	latency, token := s.latency, s.token
	s.mu.Unlock()

	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if entry.Status == 0 {
			entry.Status = sw.status
		}
		s.mu.Lock()
		s.log = append(s.log, entry)
		hook := s.hook
		s.mu.Unlock()
		if hook != nil {
			hook(entry)
		}
	}()
	if f != nil {
		entry.Fault = string(f.Kind)
		if f.Kind == FaultLatency {
			latency += f.Latency
		}
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if f != nil {
		switch f.Kind {
		case Fault429, Fault503:
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
			}
			status := http.StatusTooManyRequests
			if f.Kind == Fault503 {
				status = http.StatusServiceUnavailable
			}
			writeError(sw, &scimError{status: status, detail: "injected fault"})
			return
		case Fault500:
			writeError(sw, &scimError{status: http.StatusInternalServerError, detail: "injected fault"})
			return
		case Fault400:
			writeError(sw, badRequest("invalidValue", "injected fault"))
			return
		case FaultDrop:
			panic(http.ErrAbortHandler)
		}
	}
	if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
		writeError(sw, &scimError{status: http.StatusUnauthorized, detail: "invalid bearer token"})
		return
	}
	if f != nil && f.Kind == FaultDropAfter {
		rec := httptest.NewRecorder()
		s.handle(rec, r, body)
		entry.Status = rec.Code // what the client never saw
		panic(http.ErrAbortHandler)
	}
	s.handle(sw, r, body)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	path := strings.TrimPrefix(r.URL.Path, basePath)
	if path == r.URL.Path {
		writeError(w, &scimError{status: http.StatusNotFound, detail: "not a SCIM path"})
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	kind, id := parts[0], ""
	if len(parts) > 1 {
		id = parts[1]
	}
	if len(parts) > 2 {
		writeError(w, &scimError{status: http.StatusNotFound, detail: "no such endpoint"})
		return
	}
	switch kind {
	case "Bulk":
		s.bulk(w, r, body)
		return
	case "ServiceProviderConfig":
		s.mu.Lock() // SetPageSize may change what it says
		spc := s.serviceProviderConfig()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, spc)
		return
	case "ResourceTypes", "Schemas":
		writeJSON(w, http.StatusOK, map[string]any{"schemas": []string{schemaList}, "totalResults": 0, "Resources": []any{}})
		return
	case "Groups":
		if s.opts.Strict && s.preset.noGroups != "" {
			writeError(w, &scimError{status: http.StatusNotFound, detail: "no such endpoint: " + s.preset.noGroups})
			return
		}
	case "Users":
	default:
		writeError(w, &scimError{status: http.StatusNotFound, detail: "no such endpoint"})
		return
	}
	var doc map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		d := json.NewDecoder(bytes.NewReader(body))
		if err := d.Decode(&doc); err != nil || doc == nil {
			writeError(w, badRequest("invalidSyntax", "body is not a JSON object"))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		status = http.StatusOK
		out    any
		err    *scimError
	)
	if e := s.precondition(kind, id, r); e != nil {
		writeError(w, e)
		return
	}
	switch {
	case r.Method == http.MethodGet && id == "":
		out, err = s.list(kind, r)
	case r.Method == http.MethodGet:
		out, err = s.get(kind, id)
	case r.Method == http.MethodPost && id == "":
		status = http.StatusCreated
		out, err = s.create(kind, doc)
	case r.Method == http.MethodPut && id != "":
		out, err = s.put(kind, id, doc)
	case r.Method == http.MethodPatch && id != "":
		out, err = s.patch(kind, id, doc)
	case r.Method == http.MethodDelete && id != "":
		err = s.delete(kind, id)
		status = http.StatusNoContent
	default:
		err = &scimError{status: http.StatusMethodNotAllowed, detail: r.Method + " not allowed here"}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	if m, ok := out.(map[string]any); ok && (id != "" || status == http.StatusCreated) {
		if meta, ok := m["meta"].(map[string]any); ok {
			if status == http.StatusCreated {
				w.Header().Set("Location", str(meta["location"]))
			}
			if v := str(meta["version"]); v != "" {
				w.Header().Set("ETag", v)
			}
		}
	}
	writeJSON(w, status, out)
}

// precondition refuses a write whose If-Match names another version of the
// resource than the current one (RFC 7644 §3.14, RFC 9110 §13.1.1).
func (s *Server) precondition(kind, id string, r *http.Request) *scimError {
	if r.Method == http.MethodGet {
		return nil
	}
	return s.ifMatch(kind, id, r.Header.Get("If-Match"))
}

// ifMatch is precondition for a write of resource id whose If-Match (or
// Bulk operation version) is want.
func (s *Server) ifMatch(kind, id, want string) *scimError {
	if s.opts.NoETags || want == "" || id == "" {
		return nil
	}
	table, _ := s.table(kind)
	res := table[id]
	if res == nil {
		return nil // the method answers 404
	}
	if want == "*" {
		return nil
	}
	cur := version(res)
	for _, tag := range strings.Split(want, ",") {
		if strings.TrimSpace(tag) == cur {
			return nil
		}
	}
	return &scimError{status: http.StatusPreconditionFailed,
		detail: fmt.Sprintf("%s %s changed on the server: If-Match %s, current version %s", strings.TrimSuffix(kind, "s"), id, want, cur)}
}

func (s *Server) serviceProviderConfig() map[string]any {
	return map[string]any{
		"schemas":               []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"patch":                 map[string]any{"supported": true},
		"bulk":                  s.bulkConfig(),
		"filter":                map[string]any{"supported": true, "maxResults": s.opts.PageSize},
		"changePassword":        map[string]any{"supported": false},
		"sort":                  map[string]any{"supported": false},
		"etag":                  map[string]any{"supported": !s.opts.NoETags},
		"authenticationSchemes": []any{map[string]any{"type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": true}},
	}
}

func (s *Server) bulkConfig() map[string]any {
	if !s.opts.Bulk {
		return map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0}
	}
	maxOps, maxPayload := s.bulkLimits()
	return map[string]any{"supported": true, "maxOperations": maxOps, "maxPayloadSize": maxPayload}
}

func (s *Server) table(kind string) (map[string]*resource, []string) {
	if kind == "Users" {
		return s.store.users, s.store.userIDs
	}
	return s.store.groups, s.store.groupIDs
}

func (s *Server) list(kind string, r *http.Request) (any, *scimError) {
	q := r.URL.Query()
	start, count := 1, s.opts.PageSize
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, badRequest("invalidValue", "bad startIndex")
		}
		start = max(n, 1)
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, badRequest("invalidValue", "bad count")
		}
		count = min(max(n, 0), s.opts.PageSize)
	}
	table, ids := s.table(kind)
	var match []string
	if fs := q.Get("filter"); fs != "" {
		f, err := parseFilter(fs)
		if err != nil {
			return nil, badRequest("invalidFilter", "cannot parse filter "+strconv.Quote(fs))
		}
		if s.opts.Strict {
			if err := s.preset.checkFilter(f); err != nil {
				return nil, badRequest("invalidFilter", err.Error())
			}
		}
		match = s.indexed(kind, f)
		if match == nil {
			match = []string{}
			for _, id := range ids {
				if f.match(table[id].data) {
					match = append(match, id)
				}
			}
		}
	} else {
		match = ids
	}
	res := []any{}
	for i := start - 1; i < len(match) && len(res) < count; i++ {
		res = append(res, s.render(kind, match[i], table[match[i]], s.URL))
	}
	return map[string]any{
		"schemas":      []string{schemaList},
		"totalResults": len(match),
		"startIndex":   start,
		"itemsPerPage": len(res),
		"Resources":    res,
	}, nil
}

// indexed answers the lookups every create does (userName eq / externalId
// eq) from the indexes; nil means "scan".
func (s *Server) indexed(kind string, f filter) []string {
	c, ok := f.(cmpFilter)
	if !ok || kind != "Users" || c.op != "eq" {
		return nil
	}
	var id string
	switch strings.ToLower(c.path) {
	case "username":
		id = s.store.byName[strings.ToLower(c.value)]
	case "externalid":
		id = s.store.byExt[c.value]
	default:
		return nil
	}
	if id == "" {
		return []string{}
	}
	return []string{id}
}

func (s *Server) get(kind, id string) (any, *scimError) {
	table, _ := s.table(kind)
	r := table[id]
	if r == nil {
		return nil, notFound(kind, id)
	}
	return s.render(kind, id, r, s.URL), nil
}

func (s *Server) create(kind string, doc map[string]any) (any, *scimError) {
	delete(doc, "id")
	if kind == "Groups" {
		if str(doc["displayName"]) == "" {
			return nil, badRequest("invalidValue", "displayName is required")
		}
		if err := s.groupUnique(doc, ""); err != nil {
			return nil, err
		}
		if err := s.checkGroup(doc); err != nil {
			return nil, err
		}
		id := s.store.newID()
		s.store.putGroup(id, doc)
		return s.render(kind, id, s.store.groups[id], s.URL), nil
	}
	if err := s.checkUser(doc, nil); err != nil {
		return nil, err
	}
	if _, ok := doc["active"]; !ok {
		doc["active"] = true
	}
	if _, ok := doc["roles"]; !ok && s.preset.defaultRole != "" {
		doc["roles"] = []any{map[string]any{"value": s.preset.defaultRole, "primary": true}}
	}
	id := s.store.newID()
	s.store.putUser(id, doc)
	return s.render(kind, id, s.store.users[id], s.URL), nil
}

func (s *Server) put(kind, id string, doc map[string]any) (any, *scimError) {
	table, _ := s.table(kind)
	old := table[id]
	if old == nil {
		return nil, notFound(kind, id)
	}
	if kind == "Groups" {
		if err := s.groupUnique(doc, id); err != nil {
			return nil, err
		}
		if err := s.checkGroup(doc); err != nil {
			return nil, err
		}
		s.store.putGroup(id, doc)
		return s.render(kind, id, s.store.groups[id], s.URL), nil
	}
	if err := s.checkUser(doc, old); err != nil {
		return nil, err
	}
	if _, ok := doc["active"]; !ok {
		doc["active"] = true
	}
	s.store.putUser(id, doc)
	return s.render(kind, id, s.store.users[id], s.URL), nil
}

func (s *Server) patch(kind, id string, doc map[string]any) (any, *scimError) {
	table, _ := s.table(kind)
	old := table[id]
	if old == nil {
		return nil, notFound(kind, id)
	}
	var raw any
	for k, v := range doc {
		if strings.EqualFold(k, "Operations") {
			raw = v
		}
	}
	b, _ := json.Marshal(raw)
	var ops []patchOp
	if err := json.Unmarshal(b, &ops); err != nil || len(ops) == 0 {
		return nil, badRequest("invalidSyntax", "PATCH needs Operations")
	}
	if kind == "Users" && s.opts.Strict {
		if err := s.preset.checkPatch(ops); err != nil {
			return nil, badRequest("invalidValue", err.Error())
		}
	}
	data := deepCopy(old.data).(map[string]any)
	if err := applyPatch(data, ops); err != nil {
		return nil, err
	}
	if kind == "Groups" {
		if err := s.groupUnique(data, id); err != nil {
			return nil, err
		}
		if err := s.checkGroup(data); err != nil {
			return nil, err
		}
		s.store.putGroup(id, data)
		return s.render(kind, id, s.store.groups[id], s.URL), nil
	}
	if err := s.userUnique(data, id); err != nil {
		return nil, err
	}
	s.store.putUser(id, data)
	return s.render(kind, id, s.store.users[id], s.URL), nil
}

func (s *Server) delete(kind, id string) *scimError {
	table, _ := s.table(kind)
	if table[id] == nil {
		return notFound(kind, id)
	}
	if kind == "Groups" {
		s.store.deleteGroup(id)
		return nil
	}
	if s.opts.Strict && s.preset.noDelete {
		return &scimError{status: http.StatusMethodNotAllowed, detail: s.preset.name + " never deletes members: set active to false"}
	}
	s.store.deleteUser(id)
	return nil
}

// checkUser validates a full user body: required userName, preset rules,
// unique userName.
func (s *Server) checkUser(doc map[string]any, old *resource) *scimError {
	if str(doc["userName"]) == "" {
		return badRequest("invalidValue", "userName is required")
	}
	if s.opts.Strict {
		var err error
		if old == nil {
			err = s.preset.checkNew(doc)
		} else {
			err = s.preset.checkReplace(doc, old.data)
		}
		if err != nil {
			return badRequest("invalidValue", err.Error())
		}
	}
	self := ""
	if old != nil {
		self = str(old.data["id"])
	}
	return s.userUnique(doc, self)
}

// checkGroup applies the preset's group rules in strict mode.
func (s *Server) checkGroup(doc map[string]any) *scimError {
	if !s.opts.Strict {
		return nil
	}
	if err := s.preset.checkGroup(doc, func(id string) bool { return s.store.users[id] != nil }); err != nil {
		return badRequest("invalidValue", err.Error())
	}
	return nil
}

func (s *Server) userUnique(doc map[string]any, self string) *scimError {
	name := str(doc["userName"])
	if name == "" {
		return badRequest("invalidValue", "userName is required")
	}
	if id, ok := s.store.byName[strings.ToLower(name)]; ok && id != self {
		return &scimError{status: http.StatusConflict, scimType: "uniqueness", detail: fmt.Sprintf("userName %q is already taken", name)}
	}
	return nil
}

func (s *Server) groupUnique(doc map[string]any, self string) *scimError {
	name := str(doc["displayName"])
	for _, id := range s.store.groupIDs {
		if id != self && strings.EqualFold(str(s.store.groups[id].data["displayName"]), name) {
			return &scimError{status: http.StatusConflict, scimType: "uniqueness", detail: fmt.Sprintf("group %q already exists", name)}
		}
	}
	return nil
}
