package scimtest

import (
	"fmt"
	"slices"
	"strings"
)

// presetRules is how the emulated app treats user payloads. The tables
// mirror targets/scim's presets: the emulator's strict mode is what proves
// the client sends only what each app accepts.
type presetRules struct {
	name string
	// attrs are the attribute paths the app accepts (lower-case; complex
	// attributes as "name.givenname", extensions as "urn:...:attr"); nil = any.
	attrs []string
	roles []string // accepted role values; nil = any
	lower bool     // userName and emails must be lower-case
	// defaultRole is what the app gives an account created without a role.
	defaultRole string
	// noDelete: people are never deleted, only made former (active=false).
	noDelete bool
}

func rulesFor(preset string) presetRules {
	switch preset {
	case "whale":
		return presetRules{name: preset,
			attrs:       []string{"username", "active", "externalid", "name.givenname", "name.familyname", "roles"},
			roles:       []string{"reader", "writer", "admin"},
			defaultRole: "reader"}
	case "whimsical":
		return presetRules{name: preset,
			attrs:       []string{"username", "active", "externalid", "name.givenname", "name.familyname", "displayname", "emails", "roles"},
			roles:       []string{"editor", "viewer"},
			lower:       true,
			defaultRole: "viewer"}
	case "officernd":
		return presetRules{name: preset,
			attrs:    []string{"username", "active", "externalid", "name.givenname", "name.familyname", "displayname", "emails", "title"},
			noDelete: true}
	}
	return presetRules{name: preset}
}

// skipped attributes are read-only or envelope and never rejected.
var skipped = []string{"schemas", "id", "meta", "groups"}

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

// checkPatch validates PATCH operations.
func (p presetRules) checkPatch(ops []patchOp) error {
	for _, o := range ops {
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
