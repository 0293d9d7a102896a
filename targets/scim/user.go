package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/idsync/idsync"
)

// Apply performs op with one attempt per request; see targets.Target.
func (c *Client) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	switch op.Kind {
	case idsync.OpCreate:
		return c.createUser(ctx, op)
	case idsync.OpUpdate, idsync.OpSetRole, idsync.OpEnable, idsync.OpDisable:
		return c.modifyUser(ctx, op)
	case idsync.OpDelete:
		return c.deleteUser(ctx, op)
	case idsync.OpGroupCreate:
		return c.createGroup(ctx, op)
	case idsync.OpGroupUpdate:
		return c.updateGroup(ctx, op)
	case idsync.OpGroupDelete:
		return c.deleteGroup(ctx, op)
	case idsync.OpMemberAdd, idsync.OpMemberRemove:
		return c.members(ctx, op)
	}
	return idsync.Applied{}, fmt.Errorf("scim: %s %q: unknown op kind", op.Kind, op.Name())
}

// errGone marks a user the workspace no longer has.
var errGone = errors.New("not in the workspace")

// desired is the op's account as the preset shapes it. The role is checked
// only for ops that send it: a disable must never be blocked by a role the
// preset does not know.
func (c *Client) desired(op idsync.Op) (idsync.Account, error) {
	if op.Account == nil {
		return idsync.Account{}, fmt.Errorf("scim: %s %q: op has no account", op.Kind, op.Name())
	}
	a := c.preset.shape(*op.Account)
	if a.ExternalID == "" {
		a.ExternalID = op.ObjectID
	}
	if op.Kind != idsync.OpCreate && op.Kind != idsync.OpSetRole {
		return a, nil
	}
	if err := c.preset.checkRole(c.presetName, a.Role); err != nil {
		return a, fmt.Errorf("scim: %s user %q: %w", op.Kind, a.UserName, err)
	}
	return a, nil
}

func (c *Client) createUser(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	want, err := c.desired(op)
	if err != nil {
		return idsync.Applied{}, err
	}
	fail := func(err error) (idsync.Applied, error) {
		return idsync.Applied{}, fmt.Errorf("scim: create user %q: %w", want.UserName, err)
	}
	// Adopt before creating: the workspace may hold the person already
	// (invited by hand, or created by a run that crashed before recording it).
	have, err := c.findUser(ctx, want.UserName, want.ExternalID)
	if err != nil {
		return fail(err)
	}
	if have == nil {
		var created userJSON
		err = c.do(ctx, http.MethodPost, "/Users", c.userResource(want), &created)
		if err == nil {
			return c.applied(op, created.id())
		}
		if statusOf(err) != http.StatusConflict {
			return fail(err)
		}
		// 409: someone (another run, an admin) created it since our lookup.
		if have, err = c.findUser(ctx, want.UserName, want.ExternalID); err != nil {
			return fail(err)
		}
		if have == nil {
			return fail(errors.New("workspace answered 409 Conflict but has no user with that userName or externalId to adopt"))
		}
	}
	if err := c.adopt(ctx, have, want); err != nil {
		return fail(err)
	}
	return c.applied(op, have.id())
}

// adopt brings an existing workspace user to want, sending only what differs.
func (c *Client) adopt(ctx context.Context, have userJSON, want idsync.Account) error {
	cur := c.preset.shape(c.account(have))
	var fields []string
	for _, f := range idsync.DiffAttributes(cur, want) {
		fields = append(fields, f.Field)
	}
	ops := c.attrOps(want, fields)
	if cur.ExternalID != want.ExternalID {
		ops = append(ops, patchOp{Op: "replace", Path: "externalId", Value: want.ExternalID})
	}
	// An adopted account keeps a role the workspace gave it unless idsync
	// decided one.
	if want.Role != "" && cur.Role != want.Role {
		ops = append(ops, c.roleOps(want.Role)...)
	}
	if cur.Active != want.Active {
		ops = append(ops, activeOp(want.Active))
	}
	return c.modify(ctx, have.id(), ops)
}

func (c *Client) modifyUser(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	var (
		want idsync.Account
		err  error
	)
	if op.Account == nil && (op.Kind == idsync.OpUpdate || op.Kind == idsync.OpSetRole) {
		return idsync.Applied{}, fmt.Errorf("scim: %s user %q: op has no account", op.Kind, op.Name())
	}
	if op.Account != nil {
		if want, err = c.desired(op); err != nil {
			return idsync.Applied{}, err
		}
	}
	name := op.Name()
	var ops []patchOp
	switch op.Kind {
	case idsync.OpUpdate:
		var fields []string
		for _, f := range op.Changes {
			fields = append(fields, f.Field)
		}
		if len(fields) == 0 {
			fields = allAttrs
		}
		ops = c.attrOps(want, fields)
	case idsync.OpSetRole:
		ops = c.roleOps(want.Role)
	case idsync.OpEnable:
		ops = []patchOp{activeOp(true)}
	case idsync.OpDisable:
		ops = []patchOp{activeOp(false)}
	}
	verb := map[idsync.OpKind]string{idsync.OpUpdate: "update", idsync.OpSetRole: "set role of", idsync.OpEnable: "enable", idsync.OpDisable: "disable"}[op.Kind]
	fail := func(err error) (idsync.Applied, error) {
		return idsync.Applied{}, fmt.Errorf("scim: %s user %q: %w", verb, name, err)
	}
	id, err := c.resolveUser(ctx, op)
	if err == nil {
		err = c.modify(ctx, id, ops)
		if statusOf(err) == http.StatusNotFound {
			// Deleted (or re-created) in the workspace behind idsync's back.
			op.TargetID = ""
			if id, err = c.resolveUser(ctx, op); err == nil {
				err = c.modify(ctx, id, ops)
			}
		}
	}
	switch {
	case errors.Is(err, errGone) && op.Kind == idsync.OpDisable:
		return idsync.Applied{}, nil // nothing left to disable
	case errors.Is(err, errGone) && op.Account != nil:
		// Someone deleted the account in the workspace: put it back as idsync wants it.
		return c.createUser(ctx, idsync.Op{Kind: idsync.OpCreate, ObjectID: op.ObjectID, Account: op.Account})
	case err != nil:
		return fail(err)
	}
	return c.applied(op, id)
}

func (c *Client) deleteUser(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	name := op.Name()
	id, err := c.resolveUser(ctx, op)
	if errors.Is(err, errGone) {
		return idsync.Applied{}, nil
	}
	if err != nil {
		return idsync.Applied{}, fmt.Errorf("scim: delete user %q: %w", name, err)
	}
	if c.preset.neverDelete {
		// OfficeRnD keeps people as "former" members.
		err = c.modify(ctx, id, []patchOp{activeOp(false)})
		if err != nil && statusOf(err) != http.StatusNotFound {
			return idsync.Applied{}, fmt.Errorf("scim: delete user %q (made former): %w", name, err)
		}
		return idsync.Applied{}, nil
	}
	err = c.do(ctx, http.MethodDelete, "/Users/"+url.PathEscape(id), nil, nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return idsync.Applied{}, fmt.Errorf("scim: delete user %q: %w", name, err)
	}
	return idsync.Applied{}, nil
}

func (c *Client) applied(op idsync.Op, id string) (idsync.Applied, error) {
	return idsync.Applied{TargetID: id, Account: op.Account}, nil
}

// modify sends ops to the user: one PATCH, or GET + PUT with
// update_method: put. No ops, no request.
func (c *Client) modify(ctx context.Context, id string, ops []patchOp) error {
	if len(ops) == 0 {
		return nil
	}
	path := "/Users/" + url.PathEscape(id)
	if !c.put {
		return c.do(ctx, http.MethodPatch, path, newPatch(ops), nil)
	}
	var res userJSON
	if err := c.do(ctx, http.MethodGet, path, nil, &res); err != nil {
		return err
	}
	applyLocal(res, ops)
	return c.do(ctx, http.MethodPut, path, res, nil)
}

// resolveUser is the workspace id of op's user: its TargetID, else found by
// userName (the desired one, then the last applied one, for renames) or
// externalId. errGone when the workspace has no such user.
func (c *Client) resolveUser(ctx context.Context, op idsync.Op) (string, error) {
	if op.TargetID != "" {
		return op.TargetID, nil
	}
	ext := op.ObjectID
	var names []string
	for _, a := range []*idsync.Account{op.Account, op.Prev} {
		if a == nil {
			continue
		}
		if n := c.preset.shape(*a).UserName; n != "" && !slices.ContainsFunc(names, func(x string) bool { return strings.EqualFold(x, n) }) {
			names = append(names, n)
		}
		if ext == "" {
			ext = a.ExternalID
		}
	}
	for _, n := range names {
		u, err := c.findUser(ctx, n, "")
		if err != nil || u != nil {
			return u.id(), err
		}
	}
	u, err := c.findUser(ctx, "", ext)
	if err != nil {
		return "", err
	}
	if u == nil {
		return "", errGone
	}
	return u.id(), nil
}

// findUser looks the user up by userName (case-insensitively, as RFC 7643
// defines userName), then by externalId; nil when neither matches.
func (c *Client) findUser(ctx context.Context, userName, externalID string) (userJSON, error) {
	if userName != "" {
		u, err := c.findOne(ctx, "/Users", filterEq("userName", userName), func(u map[string]any) bool {
			return strings.EqualFold(str(u["userName"]), userName)
		})
		if u != nil || err != nil {
			return u, err
		}
	}
	if externalID != "" {
		return c.findOne(ctx, "/Users", filterEq("externalId", externalID), func(u map[string]any) bool {
			return str(u["externalId"]) == externalID
		})
	}
	return nil, nil
}

type listResponse struct {
	TotalResults int              `json:"totalResults"`
	StartIndex   int              `json:"startIndex"`
	ItemsPerPage int              `json:"itemsPerPage"`
	Resources    []map[string]any `json:"Resources"`
}

// findOne runs a filter and returns the first result that really matches:
// some workspaces ignore filters they do not support and list everything.
func (c *Client) findOne(ctx context.Context, path, filter string, match func(map[string]any) bool) (map[string]any, error) {
	var lr listResponse
	q := url.Values{"filter": {filter}, "startIndex": {"1"}, "count": {"10"}}
	if path == "/Groups" {
		q.Set("excludedAttributes", "members") // a big team's member list is not needed to find it
	}
	if err := c.do(ctx, http.MethodGet, path+"?"+q.Encode(), nil, &lr); err != nil {
		return nil, fmt.Errorf("look up %s: %w", filter, err)
	}
	for _, r := range lr.Resources {
		if match(r) {
			return r, nil
		}
	}
	return nil, nil
}
