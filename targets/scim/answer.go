package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/targets"
)

// errNoID is a workspace answer (a created, replaced or listed resource)
// without an id. Recording it would leave idsync with an empty workspace id,
// and a later change (a delete) would address the collection itself
// (DELETE /Users/), so the op fails instead.
var errNoID = errors.New("the workspace answered with a resource without an id; nothing was recorded: " +
	"its SCIM endpoint must return the id of every resource it creates, replaces or lists (RFC 7643 §3.1)")

// resourceID is the id of a resource the workspace answered with or
// listed: a non-empty string (a whole JSON number is taken as its digits)
// that targets.CheckWorkspaceID accepts.
func resourceID(r map[string]any) (string, error) {
	var id string
	switch v := r["id"].(type) {
	case string:
		id = strings.TrimSpace(v)
	case float64:
		if v >= 0 && v < 1<<53 && v == math.Trunc(v) {
			id = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	if id == "" {
		return "", errNoID
	}
	if err := targets.CheckWorkspaceID(id); err != nil {
		return "", err
	}
	return id, nil
}

// createdID is the id of the account a create's answer names. An answer
// carrying another externalId than the one sent names someone else's
// account (a workspace bug, or another request's answer): recording it
// would hand that account to this user, so the create fails instead.
func createdID(r map[string]any, ext string) (string, error) {
	id, err := resourceID(r)
	if err != nil {
		return "", err
	}
	if have, _ := r["externalId"].(string); have != "" && ext != "" && have != ext {
		return "", fmt.Errorf("the workspace answered the create with account %s carrying externalId %q, not the %q sent; nothing was recorded (the next run looks the user up again)",
			httppolicy.Text(id), httppolicy.Text(have), ext)
	}
	return id, nil
}

// decodeAnswer decodes a 2xx body into out when the caller reads it. A PUT
// or PATCH whose caller does not read the answer still checks it: one that
// answers with a resource must name it, or the workspace did something
// other than replace the resource idsync addressed.
func decodeAnswer(method string, data []byte, out any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if out != nil {
		if _, ok := out.(*listResponse); ok {
			// Counted before decoding: the body cap bounds bytes, and a
			// page of "{}," decodes to tens of times its size in maps.
			if err := httppolicy.CheckElements(data, "Resources", maxListEntries); err != nil {
				return err
			}
		}
		if b, ok := out.(*bulkResponse); ok {
			if err := httppolicy.CheckElements(data, "Operations", b.maxAnswers()); err != nil {
				return err
			}
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("a body that is not SCIM JSON: %w", err)
		}
		return nil
	}
	if method != http.MethodPut && method != http.MethodPatch {
		return nil
	}
	var res map[string]any
	if json.Unmarshal(data, &res) != nil || !isResource(res) {
		return nil
	}
	_, err := resourceID(res)
	return err
}

// isResource reports whether a JSON object is a SCIM User or Group (by its
// core schema, or a userName), as opposed to an empty or status answer.
func isResource(res map[string]any) bool {
	if _, ok := res["userName"]; ok {
		return true
	}
	schemas, _ := res["schemas"].([]any)
	for _, s := range schemas {
		if s == schemaUser || s == schemaGroup {
			return true
		}
	}
	return false
}
