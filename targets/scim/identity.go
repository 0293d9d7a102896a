package scim

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/targets"
)

// Identity is the IdP object id, carried as externalId. A workspace object
// is idsync's for a user (group) when it carries that externalId; one found
// by userName (displayName) is adopted only when it carries no externalId
// or the same one. Anything else belongs to another IdP object and is never
// changed for this one.

// ConflictError is a workspace object found by name that carries another
// IdP object's externalId. It wraps targets.ErrIdentityConflict.
type ConflictError struct {
	Kind     string // "user" or "group"
	Key      string // how it was found: `userName "jsmith@x"`, `displayName "Sales"`
	TargetID string // the workspace's id of the object
	Holder   string // the externalId it carries
	Want     string // the externalId idsync wanted to give it
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s belongs to workspace %s %s with externalId %q (another IdP %s); idsync will not take it over for %q: rename or remove one of them in the workspace",
		e.Key, e.Kind, e.TargetID, e.Holder, e.Kind, e.Want)
}

func (e *ConflictError) Unwrap() error { return targets.ErrIdentityConflict }

// owned reports whether a workspace object carrying externalId have may be
// used for the IdP object ext.
func owned(have, ext string) bool { return have == "" || have == ext }

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
// or ext. One named userName that carries another externalId is a
// *ConflictError. nil when there is none.
func (c *Client) lookupUser(ctx context.Context, ext, userName string) (userJSON, error) {
	u, err := c.userByExt(ctx, ext)
	if u != nil || err != nil {
		return u, err
	}
	u, err = c.userByName(ctx, userName)
	if u == nil || err != nil {
		return nil, err
	}
	if have := str(u["externalId"]); !owned(have, ext) {
		return nil, &ConflictError{Kind: "user", Key: fmt.Sprintf("userName %q", userName), TargetID: httppolicy.Text(u.id()), Holder: httppolicy.Text(have), Want: ext}
	}
	return u, nil
}

// lookupGroup is lookupUser for groups, by displayName.
func (c *Client) lookupGroup(ctx context.Context, ext, name string) (map[string]any, error) {
	if ext != "" {
		g, err := c.findOne(ctx, "/Groups", filterEq("externalId", ext), func(g map[string]any) bool {
			return str(g["externalId"]) == ext
		})
		if g != nil || (err != nil && statusOf(err) != http.StatusBadRequest) {
			return g, err
		}
	}
	if name == "" {
		return nil, nil
	}
	g, err := c.findOne(ctx, "/Groups", filterEq("displayName", name), func(g map[string]any) bool {
		return strings.EqualFold(str(g["displayName"]), name)
	})
	if g == nil || err != nil {
		return nil, err
	}
	if have := str(g["externalId"]); !owned(have, ext) {
		return nil, &ConflictError{Kind: "group", Key: fmt.Sprintf("displayName %q", name), TargetID: httppolicy.Text(str(g["id"])), Holder: httppolicy.Text(have), Want: ext}
	}
	return g, nil
}
