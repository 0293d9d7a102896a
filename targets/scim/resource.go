package scim

import (
	"fmt"
	"strings"

	"github.com/idsync/idsync"
)

// Schema URNs (RFC 7643).
const (
	schemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	schemaPatch      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// roleAttr is where the role goes: roles[primary] (RFC 7643 §4.1.2), or a
// single-valued attribute, core or in an extension schema.
type roleAttr struct {
	roles bool
	urn   string // extension schema; "" = core
	name  string
}

func parseRoleAttr(s string) roleAttr {
	if s == DefaultRoleAttribute {
		return roleAttr{roles: true, name: "roles"}
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		urn := s[:i]
		if strings.EqualFold(urn, schemaUser) {
			urn = ""
		}
		return roleAttr{urn: urn, name: s[i+1:]}
	}
	return roleAttr{name: s}
}

// path is the attribute's PATCH path.
func (r roleAttr) path() string {
	if r.urn != "" {
		return r.urn + ":" + r.name
	}
	return r.name
}

// covers reports whether the role attribute is the same attribute as an
// idsync profile attribute (role_attribute: ...:department), so the profile
// value is not sent over it.
func (r roleAttr) covers(attrName string) bool {
	p, _ := attrPath(attrName)
	return !r.roles && strings.EqualFold(p, r.path())
}

// attrPath maps an idsync attribute to its SCIM path and, for the RFC's
// multi-valued emails, the value to send.
func attrPath(name string) (string, bool) {
	switch name {
	case idsync.AttrEmail:
		return "emails", true
	case idsync.AttrEmployeeID:
		return schemaEnterprise + ":employeeNumber", true
	case idsync.AttrDepartment:
		return schemaEnterprise + ":department", true
	case idsync.AttrUserName, idsync.AttrGivenName, idsync.AttrFamilyName, idsync.AttrDisplayName, idsync.AttrTitle:
		return name, true
	}
	return "", false
}

func attrValue(name, v string) any {
	if name == idsync.AttrEmail {
		return []any{map[string]any{"value": v, "type": "work", "primary": true}}
	}
	return v
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

func newPatch(ops []patchOp) patchRequest {
	return patchRequest{Schemas: []string{schemaPatch}, Operations: ops}
}

// attrOps are the PATCH operations that set fields of a (shaped) to their
// values; empty values are removed. Attributes the person owns after
// creation (Whimsical's names) are sent only with create.
func (c *Client) attrOps(a idsync.Account, fields []string, create bool) []patchOp {
	var ops []patchOp
	for _, f := range fields {
		path, ok := attrPath(f)
		if !ok || !c.preset.accepts(f) || c.role.covers(f) || !create && !c.preset.updatable(f) {
			continue
		}
		v := attr(a, f)
		if v == "" {
			if f == idsync.AttrUserName {
				continue // never blank the account's key
			}
			ops = append(ops, patchOp{Op: "remove", Path: path})
			continue
		}
		ops = append(ops, patchOp{Op: "replace", Path: path, Value: attrValue(f, v)})
	}
	return ops
}

// roleOps set the role; nil when there is nothing to send.
func (c *Client) roleOps(role string) []patchOp {
	switch {
	case role == "" && (c.preset.keepDefaultRole || c.preset.roles != nil && len(c.preset.roles) == 0):
		return nil
	case role == "":
		return []patchOp{{Op: "remove", Path: c.role.path()}}
	case c.role.roles:
		return []patchOp{{Op: "replace", Path: "roles", Value: []any{map[string]any{"value": role, "primary": true}}}}
	}
	return []patchOp{{Op: "replace", Path: c.role.path(), Value: role}}
}

func activeOp(active bool) patchOp {
	return patchOp{Op: "replace", Path: "active", Value: active}
}

// userResource is the full SCIM user for a shaped account (POST and PUT).
func (c *Client) userResource(a idsync.Account) map[string]any {
	res := map[string]any{"schemas": []any{schemaUser}, "userName": a.UserName, "active": a.Active}
	if a.ExternalID != "" {
		res["externalId"] = a.ExternalID
	}
	for _, o := range c.attrOps(a, allAttrs, true) {
		if o.Op == "replace" {
			setLocal(res, o.Path, o.Value)
		}
	}
	if a.Role != "" {
		for _, o := range c.roleOps(a.Role) {
			setLocal(res, o.Path, o.Value)
		}
	}
	return res
}

// applyLocal applies PATCH ops to a resource read with GET, for workspaces
// that take only PUT. Only the path forms this client sends occur.
func applyLocal(res map[string]any, ops []patchOp) {
	for _, o := range ops {
		if o.Op == "remove" {
			removeLocal(res, o.Path)
		} else {
			setLocal(res, o.Path, o.Value)
		}
	}
	delete(res, "meta")
	delete(res, "groups")
}

func splitPath(path string) (urn, name, sub string) {
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		urn, path = path[:i], path[i+1:]
	}
	name, sub, _ = strings.Cut(path, ".")
	return urn, name, sub
}

func holder(res map[string]any, urn string, create bool) map[string]any {
	if urn == "" {
		return res
	}
	if m, ok := res[urn].(map[string]any); ok {
		return m
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	res[urn] = m
	schemas, _ := res["schemas"].([]any)
	res["schemas"] = append(schemas, urn)
	return m
}

func setLocal(res map[string]any, path string, v any) {
	urn, name, sub := splitPath(path)
	h := holder(res, urn, true)
	if sub == "" {
		h[name] = v
		return
	}
	m, _ := h[name].(map[string]any)
	if m == nil {
		m = map[string]any{}
		h[name] = m
	}
	m[sub] = v
}

func removeLocal(res map[string]any, path string) {
	urn, name, sub := splitPath(path)
	h := holder(res, urn, false)
	if h == nil {
		return
	}
	if sub == "" {
		delete(h, name)
		return
	}
	if m, ok := h[name].(map[string]any); ok {
		delete(m, sub)
	}
}

// userJSON is the part of a SCIM user idsync reads back.
type userJSON map[string]any

// id is the account's id; lookups and answers are checked with resourceID
// before an id is used.
func (u userJSON) id() string { id, _ := resourceID(u); return id }

// account reads a workspace user as an idsync account.
func (c *Client) account(u userJSON) idsync.Account {
	a := idsync.Account{
		ExternalID:  str(u["externalId"]),
		UserName:    str(u["userName"]),
		DisplayName: str(u["displayName"]),
		Title:       str(u["title"]),
		Active:      u["active"] == true || strings.EqualFold(str(u["active"]), "true"),
	}
	if n, ok := u["name"].(map[string]any); ok {
		a.GivenName, a.FamilyName = str(n["givenName"]), str(n["familyName"])
	}
	a.Email = primary(u["emails"])
	if e, ok := u[schemaEnterprise].(map[string]any); ok {
		a.EmployeeID, a.Department = str(e["employeeNumber"]), str(e["department"])
	}
	if c.role.roles {
		a.Role = primary(u["roles"])
	} else if h := holder(map[string]any(u), c.role.urn, false); h != nil {
		a.Role = str(h[c.role.name])
		if c.role.covers(idsync.AttrDepartment) {
			a.Department = ""
		}
	}
	return a
}

// primary is the value of the primary (else first) element of a
// multi-valued attribute.
func primary(v any) string {
	list, _ := v.([]any)
	first := ""
	for i, e := range list {
		m, _ := e.(map[string]any)
		if m == nil {
			continue
		}
		if m["primary"] == true {
			return str(m["value"])
		}
		if i == 0 {
			first = str(m["value"])
		}
	}
	return first
}

func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	return fmt.Sprint(v)
}

// filterEq is a SCIM filter `attr eq "value"`.
func filterEq(attr, value string) string {
	v := strings.ReplaceAll(strings.ReplaceAll(value, `\`, `\\`), `"`, `\"`)
	return attr + ` eq "` + v + `"`
}
