package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// scimType values of RFC 7644 §3.12 the handler uses.
const (
	typeInvalidFilter = "invalidFilter"
	typeInvalidPath   = "invalidPath"
	typeInvalidValue  = "invalidValue"
	typeInvalidSyntax = "invalidSyntax"
	typeUniqueness    = "uniqueness"
	typeMutability    = "mutability"
	typeNoTarget      = "noTarget"
	typeTooMany       = "tooMany"
)

const (
	schemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	contentType        = "application/scim+json; charset=utf-8"
)

// apiError is an RFC 7644 §3.12 error: what the client did wrong, said so
// that an operator reading the IdP's provisioning log knows what to fix.
type apiError struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *apiError) Error() string { return e.Detail }

func badRequest(scimType, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// writeError answers err as a SCIM error body. Repo sentinel errors map to
// their statuses; anything else is the store's failure (500), logged, and
// described to the client without internals.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, ErrNotFound):
		ae = &apiError{Status: http.StatusNotFound, Detail: "no such resource"}
	case errors.Is(err, ErrConflict):
		ae = &apiError{Status: http.StatusConflict, ScimType: typeUniqueness, Detail: "userName is already taken by another user"}
	case errors.Is(err, ErrChanged):
		ae = &apiError{Status: http.StatusPreconditionFailed, Detail: "resource changed since it was read: re-read it and retry with its current ETag"}
	case r.Context().Err() != nil:
		ae = &apiError{Status: http.StatusServiceUnavailable, Detail: "request cancelled"}
	default:
		h.log.Error("scim: store failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Detail: "the store failed; retry later (the listener's log has the cause)"}
	}
	body := map[string]any{
		"schemas": []string{schemaError},
		"status":  strconv.Itoa(ae.Status),
		"detail":  ae.Detail,
	}
	if ae.ScimType != "" {
		body["scimType"] = ae.ScimType
	}
	if ae.Status >= 500 {
		h.log.Warn("scim: request failed", "method", r.Method, "path", r.URL.Path, "status", ae.Status)
	} else {
		h.log.Debug("scim: request refused", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "scimType", ae.ScimType, "detail", ae.Detail)
	}
	writeJSON(w, ae.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil { // only a value the handler built itself; never expected
		b = []byte(`{"schemas":["` + schemaError + `"],"status":"500","detail":"response encoding failed"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
