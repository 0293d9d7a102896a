package scimtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Bulk (RFC 7644 §3.7): POST /Bulk with a BulkRequest; each operation
// (POST, PUT, PATCH or DELETE of a User or Group) is served like the
// request it names, with the same strict-mode rules, its version as
// If-Match, and answered in the BulkResponse with its own status,
// location and the resource's new version. bulkId references ("bulkId:x" inside data) are not
// resolved: idsync never sends them.

const (
	schemaBulkRequest  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	schemaBulkResponse = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	// DefaultBulkMaxOperations and DefaultBulkMaxPayload are what the
	// server advertises when Options leave them 0.
	DefaultBulkMaxOperations = 1000
	DefaultBulkMaxPayload    = 1 << 20
)

type bulkOp struct {
	Method  string         `json:"method"`
	BulkID  string         `json:"bulkId,omitempty"`
	Version string         `json:"version,omitempty"`
	Path    string         `json:"path"`
	Data    map[string]any `json:"data,omitempty"`
}

func (s *Server) bulkLimits() (maxOps, maxPayload int) {
	maxOps, maxPayload = s.opts.BulkMaxOperations, s.opts.BulkMaxPayload
	if maxOps <= 0 {
		maxOps = DefaultBulkMaxOperations
	}
	if maxPayload <= 0 {
		maxPayload = DefaultBulkMaxPayload
	}
	return maxOps, maxPayload
}

// bulk serves POST /Bulk. A fault injected with Method "BULK POST" (etc.)
// answers one operation inside a Bulk request (429/503/500 as its status).
func (s *Server) bulk(w http.ResponseWriter, r *http.Request, body []byte) {
	if !s.opts.Bulk {
		writeError(w, &scimError{status: http.StatusNotImplemented, detail: "bulk is not supported"})
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, &scimError{status: http.StatusMethodNotAllowed, detail: r.Method + " not allowed here"})
		return
	}
	maxOps, maxPayload := s.bulkLimits()
	if len(body) > maxPayload {
		writeError(w, &scimError{status: http.StatusRequestEntityTooLarge, scimType: "tooLarge",
			detail: fmt.Sprintf("the size of the bulk operation exceeds the maxPayloadSize (%d)", maxPayload)})
		return
	}
	var req struct {
		Schemas      []string `json:"schemas"`
		FailOnErrors int      `json:"failOnErrors"`
		Operations   []bulkOp `json:"Operations"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Schemas) != 1 || req.Schemas[0] != schemaBulkRequest {
		writeError(w, badRequest("invalidSyntax", "body is not a BulkRequest"))
		return
	}
	if len(req.Operations) > maxOps {
		writeError(w, &scimError{status: http.StatusRequestEntityTooLarge, scimType: "tooMany",
			detail: fmt.Sprintf("the number of operations exceeds the maxOperations (%d)", maxOps)})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(req.Operations))
	errorsSeen := 0
	for _, op := range req.Operations {
		if req.FailOnErrors > 0 && errorsSeen >= req.FailOnErrors {
			break
		}
		res := s.bulkOne(op)
		if st, _ := strconv.Atoi(str(res["status"])); st >= 400 {
			errorsSeen++
		}
		out = append(out, res)
	}
	s.bulkOps += len(out)
	writeJSON(w, http.StatusOK, map[string]any{"schemas": []string{schemaBulkResponse}, "Operations": out})
}

// bulkOne serves one operation of a Bulk request. Callers hold s.mu.
func (s *Server) bulkOne(op bulkOp) map[string]any {
	res := map[string]any{"method": op.Method}
	if op.BulkID != "" {
		res["bulkId"] = op.BulkID
	}
	fail := func(e *scimError) map[string]any {
		res["status"] = strconv.Itoa(e.status)
		res["response"] = map[string]any{"schemas": []string{schemaError}, "status": strconv.Itoa(e.status), "scimType": e.scimType, "detail": e.detail}
		return res
	}
	if f := s.pickFault("BULK " + op.Method); f != nil {
		switch f.Kind {
		case Fault429:
			return fail(&scimError{status: http.StatusTooManyRequests, detail: "injected fault"})
		case Fault503:
			return fail(&scimError{status: http.StatusServiceUnavailable, detail: "injected fault"})
		case Fault500:
			return fail(&scimError{status: http.StatusInternalServerError, detail: "injected fault"})
		case Fault400:
			return fail(badRequest("invalidValue", "injected fault"))
		}
	}
	parts := strings.Split(strings.Trim(op.Path, "/"), "/")
	kind, id := parts[0], ""
	if len(parts) > 1 {
		id = parts[1]
	}
	if len(parts) > 2 || (kind != "Users" && kind != "Groups") || (kind == "Groups" && s.opts.Strict && s.preset.noGroups != "") {
		return fail(&scimError{status: http.StatusNotFound, detail: "no such endpoint: " + op.Path})
	}
	if op.Method == http.MethodPost && op.BulkID == "" {
		return fail(badRequest("invalidSyntax", "bulkId is required for POST"))
	}
	if e := s.ifMatch(kind, id, op.Version); e != nil && op.Method != http.MethodPost {
		// RFC 7644 §3.7: an operation's version is its If-Match.
		return fail(e)
	}
	var (
		out    any
		err    *scimError
		status = http.StatusOK
	)
	switch {
	case op.Method == http.MethodPost && id == "":
		if op.Data == nil {
			return fail(badRequest("invalidSyntax", "data is required"))
		}
		status = http.StatusCreated
		out, err = s.create(kind, op.Data)
	case op.Method == http.MethodPut && id != "" && op.Data != nil:
		out, err = s.put(kind, id, op.Data)
	case op.Method == http.MethodPatch && id != "" && op.Data != nil:
		out, err = s.patch(kind, id, op.Data)
	case op.Method == http.MethodDelete && id != "":
		err, status = s.delete(kind, id), http.StatusNoContent
	default:
		err = &scimError{status: http.StatusMethodNotAllowed, detail: op.Method + " " + op.Path + " not allowed in a bulk request"}
	}
	if err != nil {
		return fail(err)
	}
	res["status"] = strconv.Itoa(status)
	if m, ok := out.(map[string]any); ok {
		if meta, ok := m["meta"].(map[string]any); ok {
			res["location"] = str(meta["location"])
			if v := str(meta["version"]); v != "" {
				res["version"] = v
			}
		}
	}
	return res
}

// BulkOperations is how many operations Bulk requests have carried.
func (s *Server) BulkOperations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bulkOps
}
