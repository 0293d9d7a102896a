package scim

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/targets"
)

// Identity is the IdP object id, carried as externalId. A workspace object
// is idsync's for a user (group) when it carries that externalId; one found
// by userName (displayName) is adopted only when it carries no externalId
// or the same one. Anything else belongs to another IdP object and is never
// changed for this one. Some workspaces do not keep externalId, so an
// object found by identity is also checked against idsync's own record
// (targets.OwnerOf) before any write: one the applied state records for
// another IdP object is not ours either.

// ConflictError is a workspace object found by name that carries another
// IdP object's externalId, or one found by identity that idsync's applied
// state records for another IdP object. It wraps
// targets.ErrIdentityConflict.
type ConflictError struct {
	Kind     string // "user" or "group"
	Key      string // how it was found: `userName "jsmith@x"`, `displayName "Sales"`
	TargetID string // the workspace's id of the object
	Holder   string // the externalId it carries
	Want     string // the externalId idsync wanted to give it
	// RecordedFor is the IdP object idsync's applied state records the
	// workspace object for, when that is what makes it another's.
	RecordedFor string
}

func (e *ConflictError) Error() string {
	if e.RecordedFor != "" {
		return fmt.Sprintf("%s belongs to workspace %s %s, which idsync manages for IdP %s %q; idsync will not take it over for %q: rename or remove one of them in the workspace",
			e.Key, e.Kind, e.TargetID, e.Kind, e.RecordedFor, e.Want)
	}
	return fmt.Sprintf("%s belongs to workspace %s %s with externalId %q (another IdP %s); idsync will not take it over for %q: rename or remove one of them in the workspace",
		e.Key, e.Kind, e.TargetID, e.Holder, e.Kind, e.Want)
}

func (e *ConflictError) Unwrap() error { return targets.ErrIdentityConflict }

// owned reports whether a workspace object carrying externalId have may be
// used for the IdP object ext.
func owned(have, ext string) bool { return have == "" || have == ext }

// recordedFor reports whether the account at op's recorded id, read or
// listed carrying externalId have and userName name, may take op: it
// carries the user's externalId, or none. With none, a disable or delete
// (which lock a person out) also needs one of the user's userNames as the
// preset shapes them: a workspace that reuses ids may have given the id to
// a hand-made account since, which carries none either. An account that
// fails is looked up by identity instead.
func (c *Client) recordedFor(op idsync.Op, have, name string) bool {
	if !owned(have, userExt(op)) {
		return false
	}
	if have != "" || op.Kind != idsync.OpDelete && op.Kind != idsync.OpDisable {
		return true
	}
	for _, a := range []*idsync.Account{op.Account, op.Prev} {
		if a != nil && name != "" && strings.EqualFold(c.preset.shape(*a).UserName, name) {
			return true
		}
	}
	return false
}

// claimed is a *ConflictError when the applied state records the workspace
// object id (found by key, carrying externalId holder) for another IdP
// object than want; nil when it records it for want or for none.
func claimed(ctx context.Context, kind targets.Kind, key, id, holder, want string) error {
	owner, err := targets.OwnerOf(ctx, kind, id)
	if err != nil {
		return fmt.Errorf("check which IdP %s idsync manages workspace %s %s for: %w", kind, kind, id, err)
	}
	if owner != "" && owner != want {
		return &ConflictError{Kind: string(kind), Key: key, TargetID: id, Holder: holder, Want: want, RecordedFor: owner}
	}
	return nil
}

// lookupKey is how a conflict names the lookup that found an object.
func lookupKey(attr, value string) string { return fmt.Sprintf("%s %q", attr, value) }

// userByExt returns the account carrying externalId ext, or nil. A workspace
// that refuses an externalId filter (400) is answered "none": the userName
// lookup that follows still reads each account's externalId, so adoption
// stays safe; only a renamed account may then be missed and re-created.
func (c *Client) userByExt(ctx context.Context, ext string) (userJSON, error) {
	if ext == "" {
		return nil, nil
	}
	u, err := c.findOne(ctx, "/Users", filterEq("externalId", ext), func(u map[string]any) bool {
		return str(u["externalId"]) == ext
	})
	if statusOf(err) == http.StatusBadRequest {
		return nil, nil
	}
	return u, err
}

// userByName returns the account with userName name (case-insensitively, as
// RFC 7643 defines userName), or nil.
func (c *Client) userByName(ctx context.Context, name string) (userJSON, error) {
	if name == "" {
		return nil, nil
	}
	return c.findOne(ctx, "/Users", filterEq("userName", name), func(u map[string]any) bool {
		return strings.EqualFold(str(u["userName"]), name)
	})
}

// lookupUser finds the account a create for (ext, userName) may adopt: the
// one carrying ext, else the one named userName if it carries no externalId
// or ext. One named userName that carries another externalId, or either one
// when the applied state records it for another user, is a *ConflictError.
// nil when there is none.
func (c *Client) lookupUser(ctx context.Context, ext, userName string) (userJSON, error) {
	u, err := c.userByExt(ctx, ext)
	if err != nil {
		return nil, err
	}
	if u != nil {
		if err := claimed(ctx, targets.User, lookupKey("externalId", ext), u.id(), ext, ext); err != nil {
			return nil, err
		}
		return u, nil
	}
	u, err = c.userByName(ctx, userName)
	if u == nil || err != nil {
		return nil, err
	}
	key, have := lookupKey("userName", userName), str(u["externalId"])
	if !owned(have, ext) {
		return nil, &ConflictError{Kind: "user", Key: key, TargetID: httppolicy.Text(u.id()), Holder: httppolicy.Text(have), Want: ext}
	}
	if err := claimed(ctx, targets.User, key, u.id(), have, ext); err != nil {
		return nil, err
	}
	return u, nil
}

// lookupGroup is lookupUser for groups, by displayName.
func (c *Client) lookupGroup(ctx context.Context, ext, name string) (map[string]any, error) {
	if ext != "" {
		g, err := c.findOne(ctx, "/Groups", filterEq("externalId", ext), func(g map[string]any) bool {
			return str(g["externalId"]) == ext
		})
		if err != nil && statusOf(err) != http.StatusBadRequest {
			return nil, err
		}
		if g != nil {
			if err := claimed(ctx, targets.Group, lookupKey("externalId", ext), str(g["id"]), ext, ext); err != nil {
				return nil, err
			}
			return g, nil
		}
	}
	if name == "" {
		return nil, nil
	}
	// Names are not unique: of the groups of that name, the one carrying
	// ext (where the workspace could not filter by it) wins over a
	// hand-made one listed before it.
	var g map[string]any
	_, err := c.findOne(ctx, "/Groups", filterEq("displayName", name), func(x map[string]any) bool {
		if !strings.EqualFold(str(x["displayName"]), name) {
			return false
		}
		if g == nil || ext != "" && str(x["externalId"]) == ext && str(g["externalId"]) != ext {
			g = x
		}
		return false
	})
	if g == nil || err != nil {
		return nil, err
	}
	if _, err := resourceID(g); err != nil {
		return nil, fmt.Errorf("look up %s: %w", filterEq("displayName", name), err)
	}
	key, have := lookupKey("displayName", name), str(g["externalId"])
	if !owned(have, ext) {
		return nil, &ConflictError{Kind: "group", Key: key, TargetID: httppolicy.Text(str(g["id"])), Holder: httppolicy.Text(have), Want: ext}
	}
	if err := claimed(ctx, targets.Group, key, str(g["id"]), have, ext); err != nil {
		return nil, err
	}
	return g, nil
}
