package scimtest

import (
	"fmt"
	"slices"
	"strings"
)

// presetRules is how the emulated app treats requests in strict mode. Each
// rule is what the app's vendor guide says (shared/seeds; the guide wins):
// the emulator's strict mode is what proves the client sends exactly what
// each app takes.
type presetRules struct {
	name string // the app, for messages
	// attrs are the user attribute paths the app accepts (lower-case;
	// complex attributes as "name.givenname", extensions as "urn:...:attr");
	// nil = any.
	attrs []string
	// roles are the accepted role values; nil = any, empty = the app takes
	// no roles at all (noRoles says why).
	roles   []string
	noRoles string
	lower   bool // userName and emails must be lower-case
	// createOnly are user attribute paths the app takes only on POST: an
	// update that changes them is refused (the person owns them).
	createOnly []string
	// filters are the attributes a filter may name (lower-case); nil = any.
	filters []string
	// defaultRole is what the app gives an account created without a role.
	defaultRole string
	// noDelete: people are never deleted, only made former (active=false).
	noDelete bool
	// needExternalID: a user (and a group) must carry externalId, the IdP
	// object id the app matches on.
	needExternalID bool
	// noGroups, when set, is why the app has no /Groups endpoint.
	noGroups string
	// groupAttrs are the group attributes accepted (lower-case); nil = any.
	// usersOnly: group members must be existing users, never groups.
	groupAttrs []string
	usersOnly  bool
}

func rulesFor(preset string) presetRules {
	switch preset {
	case "whale":
		// 000: "Only the attributes 'userName', 'active', 'name.givenName',
		// 'name.familyName' and 'externalId' are required"; mailNickname
		// remapped to objectId; no groups.
		return presetRules{name: "Whale",
			attrs:          []string{"username", "active", "externalid", "name.givenname", "name.familyname"},
			roles:          []string{},
			noRoles:        "Whale maps no role attribute",
			needExternalID: true,
			noGroups:       "Whale provisions users only"}
	case "whimsical":
		// 001: "Update user roles (editor / viewer)"; "Email addresses must
		// be sent to Whimsical in lower case"; "After user creation, given
		// name and family name fields can only be updated by the users
		// themselves"; "If the editor role is set to undefined, the user
		// will be provisioned with the default role". 003: filterable
		// userName, externalId, active, displayName. Users only.
		return presetRules{name: "Whimsical",
			attrs:       []string{"username", "active", "externalid", "name.givenname", "name.familyname", "displayname", "emails", "roles"},
			roles:       []string{"editor", "viewer"},
			lower:       true,
			createOnly:  []string{"name.givenname", "name.familyname"},
			filters:     []string{"username", "externalid", "active", "displayname"},
			defaultRole: "viewer",
			noGroups:    "Whimsical provisions users only (add, remove, update roles, import)"}
	case "whistleblower":
		// 002: "Permissions cannot be configured during the provisioning
		// process itself"; disabled when unassigned, removed when deleted;
		// users only.
		return presetRules{name: "Whistleblower Software",
			roles:    []string{},
			noRoles:  "permissions cannot be configured during provisioning",
			noGroups: "Whistleblower Software provisions users only"}
	case "officernd":
		// 004: users keep userName, active, displayName, externalId ("Delete
		// all irrelevant"); deleted people "will be labeled as Former";
		// teams carry displayName, externalId, members (the "Group"
		// reference removed: users only) and an optional description.
		return presetRules{name: "OfficeRnD",
			attrs:          []string{"username", "active", "externalid", "displayname"},
			roles:          []string{},
			noRoles:        "OfficeRnD maps no role attribute",
			noDelete:       true,
			needExternalID: true,
			groupAttrs:     []string{"displayname", "externalid", "description", "members"},
			usersOnly:      true}
	}
	return presetRules{name: preset}
}

// skipped attributes are read-only or envelope and never rejected.
var skipped = []string{"schemas", "id", "meta", "groups"}

// checkNew validates a POST body.
func (p presetRules) checkNew(body map[string]any) error {
	if p.needExternalID && str(body["externalId"]) == "" {
		return fmt.Errorf("externalId is required by %s (the IdP object id it matches people on)", p.name)
	}
	return p.checkUser(body)
}

// checkReplace validates a PUT body against the stored user: attributes
// the person owns after creation must not change.
func (p presetRules) checkReplace(body, old map[string]any) error {
	if err := p.checkUser(body); err != nil {
		return err
	}
	for _, path := range p.createOnly {
		if a, b := attrAt(body, path), attrAt(old, path); a != b {
			return fmt.Errorf("%s can only be changed by the user in %s after creation (%q → %q)", path, p.name, b, a)
		}
	}
	return nil
}

// attrAt reads a core attribute path ("name.givenname") case-insensitively.
func attrAt(doc map[string]any, path string) string {
	name, sub, _ := strings.Cut(path, ".")
	for k, v := range doc {
		if !strings.EqualFold(k, name) {
			continue
		}
		if sub == "" {
			return str(v)
		}
		m, _ := v.(map[string]any)
		for sk, sv := range m {
			if strings.EqualFold(sk, sub) {
				return str(sv)
			}
		}
	}
	return ""
}

// checkUser validates a POST/PUT body (or a path-less PATCH value).
func (p presetRules) checkUser(body map[string]any) error {
	for k, v := range body {
		lk := strings.ToLower(k)
		if slices.Contains(skipped, lk) {
			continue
		}
		if m, ok := v.(map[string]any); ok && (isSchemaURN(k) || lk == "name") {
			for sk, sv := range m {
				path := lk + "." + strings.ToLower(sk)
				if isSchemaURN(k) {
					path = lk + ":" + strings.ToLower(sk)
				}
				if err := p.checkAttr(path, sv); err != nil {
					return err
				}
			}
			continue
		}
		if err := p.checkAttr(lk, v); err != nil {
			return err
		}
	}
	return nil
}

// checkPatch validates PATCH operations on an existing user.
func (p presetRules) checkPatch(ops []patchOp) error {
	for _, o := range ops {
		if key := p.ownedKey(o); key != "" {
			return fmt.Errorf("%s can only be changed by the user in %s after creation", key, p.name)
		}
		if strings.EqualFold(o.Op, "remove") {
			if p.attrs == nil {
				continue
			}
			if err := p.checkAttr(patchKey(o.Path), nil); err != nil {
				return err
			}
			continue
		}
		if o.Path == "" {
			m, _ := o.Value.(map[string]any)
			if err := p.checkUser(m); err != nil {
				return err
			}
			continue
		}
		key := patchKey(o.Path)
		if m, ok := o.Value.(map[string]any); ok && (key == "name" || isSchemaURN(o.Path)) {
			if err := p.checkUser(map[string]any{o.Path: m}); err != nil {
				return err
			}
			continue
		}
		if err := p.checkAttr(key, o.Value); err != nil {
			return err
		}
	}
	return nil
}

// ownedKey is the create-only attribute o touches, "" when none.
func (p presetRules) ownedKey(o patchOp) string {
	var keys []string
	switch key := patchKey(o.Path); {
	case o.Path == "":
		m, _ := o.Value.(map[string]any)
		for k, v := range m {
			keys = append(keys, subKeys(strings.ToLower(k), v)...)
		}
	default:
		keys = subKeys(key, o.Value)
	}
	for _, k := range keys {
		if slices.Contains(p.createOnly, k) {
			return k
		}
	}
	return ""
}

// subKeys expands "name" with a map value to "name.givenname", ...; a
// removal of "name" touches every sub-attribute.
func subKeys(key string, v any) []string {
	if key != "name" {
		return []string{key}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return []string{"name.givenname", "name.familyname"}
	}
	var out []string
	for k := range m {
		out = append(out, "name."+strings.ToLower(k))
	}
	return out
}

// checkFilter refuses filters on attributes the app cannot filter by.
func (p presetRules) checkFilter(f filter) error {
	if p.filters == nil {
		return nil
	}
	for _, path := range filterPaths(f) {
		if !slices.Contains(p.filters, strings.ToLower(path)) {
			return fmt.Errorf("%s cannot filter on %q (filterable: %s)", p.name, path, strings.Join(p.filters, ", "))
		}
	}
	return nil
}

func filterPaths(f filter) []string {
	switch f := f.(type) {
	case cmpFilter:
		return []string{f.path}
	case andFilter:
		var out []string
		for _, x := range f {
			out = append(out, filterPaths(x)...)
		}
		return out
	case orFilter:
		var out []string
		for _, x := range f {
			out = append(out, filterPaths(x)...)
		}
		return out
	case notFilter:
		return filterPaths(f.f)
	}
	return nil
}

// checkGroup validates a group as it would be stored (after a POST, PUT or
// PATCH): only the attributes the app takes, externalId where required,
// and members that are users.
func (p presetRules) checkGroup(doc map[string]any, isUser func(id string) bool) error {
	if p.groupAttrs != nil {
		for k := range doc {
			lk := strings.ToLower(k)
			if !slices.Contains(skipped, lk) && !slices.Contains(p.groupAttrs, lk) {
				return fmt.Errorf("group attribute %q is not supported by %s", k, p.name)
			}
		}
	}
	if p.needExternalID && str(doc["externalId"]) == "" {
		return fmt.Errorf("externalId is required by %s", p.name)
	}
	if !p.usersOnly {
		return nil
	}
	ms, _ := doc["members"].([]any)
	for _, m := range ms {
		mm, _ := m.(map[string]any)
		if strings.EqualFold(str(mm["type"]), "Group") || !isUser(str(mm["value"])) {
			return fmt.Errorf("member %q is not a user: %s teams have users as members only", str(mm["value"]), p.name)
		}
	}
	return nil
}

// patchKey reduces a PATCH path to the key checkAttr knows:
// emails[type eq "work"].value → emails, name.givenName → name.givenname.
func patchKey(path string) string {
	a := parsePath(path)
	key := strings.ToLower(a.name)
	if a.urn != "" && !strings.EqualFold(a.urn, SchemaUser) {
		key = strings.ToLower(a.urn) + ":" + key
	}
	if a.filter == "" && a.sub != "" && key == "name" {
		key += "." + strings.ToLower(a.sub)
	}
	return key
}

func (p presetRules) checkAttr(path string, v any) error {
	if strings.Contains(path, ".") && !strings.HasPrefix(path, "name.") && !strings.HasPrefix(path, "urn:") {
		path = patchKey(path) // a dotted key in a path-less PATCH value
	}
	if p.attrs != nil && !slices.Contains(p.attrs, path) && !(path == "name" && slices.ContainsFunc(p.attrs, func(a string) bool { return strings.HasPrefix(a, "name.") })) {
		return fmt.Errorf("attribute %q is not supported by %s", path, p.name)
	}
	switch {
	case path == "roles" && p.roles != nil && len(p.roles) == 0:
		return fmt.Errorf("%s takes no roles over SCIM (%s)", p.name, p.noRoles)
	case path == "roles" && p.roles != nil && v != nil:
		for _, r := range roleValues(v) {
			if !slices.Contains(p.roles, r) {
				return fmt.Errorf("role %q is not one of %s", r, strings.Join(p.roles, ", "))
			}
		}
	case p.lower && (path == "username" || path == "emails"):
		for _, s := range stringsIn(v) {
			if s != strings.ToLower(s) {
				return fmt.Errorf("%s %q must be lower-case", path, s)
			}
		}
	}
	return nil
}

func roleValues(v any) []string {
	var out []string
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, str(m["value"]))
		} else {
			out = append(out, str(e))
		}
	}
	return out
}

func stringsIn(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				out = append(out, str(m["value"]))
			} else {
				out = append(out, str(e))
			}
		}
		return out
	case map[string]any:
		return []string{str(v["value"])}
	}
	return nil
}
