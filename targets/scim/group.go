package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
)

// Groups are always changed with PATCH (also with update_method: put): a
// full PUT of a large group would resend every member for each change.

func groupName(op idsync.Op) string {
	if op.Group != nil {
		return op.Group.DisplayName
	}
	if op.PrevGroup != nil {
		return op.PrevGroup.DisplayName
	}
	return op.ObjectID
}

func groupExt(op idsync.Op) string {
	if op.Group != nil && op.Group.ExternalID != "" {
		return op.Group.ExternalID
	}
	if op.PrevGroup != nil && op.PrevGroup.ExternalID != "" {
		return op.PrevGroup.ExternalID
	}
	return op.ObjectID
}

func (c *Client) createGroup(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	if op.Group == nil {
		return idsync.Applied{}, fmt.Errorf("scim: create group %q: op has no group", op.ObjectID)
	}
	name, ext := op.Group.DisplayName, groupExt(op)
	fail := func(err error) (idsync.Applied, error) {
		return idsync.Applied{}, fmt.Errorf("scim: create group %q: %w", name, err)
	}
	// Adopt a group that carries ext, or one of that name that carries no
	// externalId or ext; never another IdP group's.
	g, err := c.lookupGroup(ctx, ext, name)
	if err != nil {
		return fail(err)
	}
	if g == nil {
		body := map[string]any{"schemas": []any{schemaGroup}, "displayName": name, "externalId": ext}
		if desc := c.groupDescription(op); desc != "" {
			body["description"] = desc
		}
		var created map[string]any
		err = c.do(ctx, http.MethodPost, "/Groups", body, &created)
		switch {
		case err == nil:
			g = created
		case statusOf(err) == http.StatusConflict:
			if g, err = c.lookupGroup(ctx, ext, name); err != nil {
				return fail(err)
			}
			if g == nil {
				return fail(errors.New("workspace answered 409 Conflict but has no group with that name or externalId to adopt"))
			}
		default:
			return fail(err)
		}
	}
	id, err := resourceID(g)
	if err != nil {
		return fail(err)
	}
	var ops []patchOp
	if str(g["displayName"]) != name {
		ops = append(ops, patchOp{Op: "replace", Path: "displayName", Value: name})
	}
	if str(g["externalId"]) != ext {
		ops = append(ops, patchOp{Op: "replace", Path: "externalId", Value: ext})
	}
	if desc := c.groupDescription(op); c.preset.traits.GroupDescriptions && str(g["description"]) != desc {
		ops = append(ops, descriptionOp(desc))
	}
	if len(ops) > 0 {
		if err := c.do(ctx, http.MethodPatch, "/Groups/"+url.PathEscape(id), newPatch(ops), nil); err != nil {
			return fail(err)
		}
	}
	members := op.Members
	if len(members) == 0 {
		// The group's member list alone (externalIds): members are found by externalId.
		for _, ext := range op.Group.Members {
			members = append(members, idsync.Member{ExternalID: ext})
		}
	}
	if len(members) > 0 {
		if err := c.patchMembers(ctx, id, members, true); err != nil {
			return fail(err)
		}
	}
	return idsync.Applied{TargetID: id, Group: op.Group}, nil
}

func (c *Client) updateGroup(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	name := groupName(op)
	id, err := c.ownGroup(ctx, op, true)
	if errors.Is(err, errGone) {
		return c.createGroup(ctx, op)
	}
	if err != nil {
		return idsync.Applied{}, fmt.Errorf("scim: update group %q: %w", name, err)
	}
	if op.Group != nil {
		ops := []patchOp{{Op: "replace", Path: "displayName", Value: op.Group.DisplayName}}
		if desc := c.groupDescription(op); c.preset.traits.GroupDescriptions && (op.PrevGroup == nil || op.PrevGroup.Description != desc) {
			ops = append(ops, descriptionOp(desc))
		}
		err = c.do(ctx, http.MethodPatch, "/Groups/"+url.PathEscape(id), newPatch(ops), nil)
		if statusOf(err) == http.StatusNotFound {
			return c.createGroup(ctx, op)
		}
		if err != nil {
			return idsync.Applied{}, fmt.Errorf("scim: update group %q: %w", name, err)
		}
	}
	return idsync.Applied{TargetID: id, Group: op.Group}, nil
}

// groupDescription is the description op's group should carry: "" unless
// the workspace takes descriptions (OfficeRnD teams: "Create a new
// attribute 'description'").
func (c *Client) groupDescription(op idsync.Op) string {
	if !c.preset.traits.GroupDescriptions || op.Group == nil {
		return ""
	}
	return op.Group.Description
}

func descriptionOp(desc string) patchOp {
	if desc == "" {
		return patchOp{Op: "remove", Path: "description"}
	}
	return patchOp{Op: "replace", Path: "description", Value: desc}
}

func (c *Client) deleteGroup(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	name := groupName(op)
	// Like a user delete: a recorded group that is gone is deleted already.
	id, err := c.ownGroup(ctx, op, false)
	if errors.Is(err, errGone) || errors.Is(err, targets.ErrIdentityConflict) {
		return idsync.Applied{}, nil // none of ours left; another IdP group's group is not deleted
	}
	if err == nil {
		err = c.do(ctx, http.MethodDelete, "/Groups/"+url.PathEscape(id), nil, nil)
	}
	if err != nil && statusOf(err) != http.StatusNotFound {
		return idsync.Applied{}, fmt.Errorf("scim: delete group %q: %w", name, err)
	}
	return idsync.Applied{}, nil
}

func (c *Client) members(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	name, add := groupName(op), op.Kind == idsync.OpMemberAdd
	verb := "add members to"
	if !add {
		verb = "remove members from"
	}
	id, err := c.ownGroup(ctx, op, true)
	if err == nil {
		err = c.patchMembers(ctx, id, op.Members, add)
	}
	if err != nil {
		return idsync.Applied{}, fmt.Errorf("scim: %s group %q: %w", verb, name, err)
	}
	return idsync.Applied{TargetID: id, Group: op.Group}, nil
}

// patchMembers adds or removes members, member_batch per PATCH. Members
// idsync has no workspace id for are looked up by externalId; one missing
// from the workspace is an error when adding and already done when removing.
func (c *Client) patchMembers(ctx context.Context, groupID string, members []idsync.Member, add bool) error {
	var ids, missing []string
	for _, m := range members {
		id := m.TargetID
		if id == "" {
			u, err := c.userByExt(ctx, m.ExternalID)
			if err != nil {
				return err
			}
			if u == nil {
				missing = append(missing, m.ExternalID)
				continue
			}
			id = u.id()
		}
		ids = append(ids, id)
	}
	path := "/Groups/" + url.PathEscape(groupID)
	for start := 0; start < len(ids); start += c.batch {
		chunk := ids[start:min(start+c.batch, len(ids))]
		var ops []patchOp
		if add {
			var value []any
			for _, id := range chunk {
				value = append(value, map[string]any{"value": id})
			}
			ops = []patchOp{{Op: "add", Path: "members", Value: value}}
		} else {
			for _, id := range chunk {
				ops = append(ops, patchOp{Op: "remove", Path: fmt.Sprintf(`members[value eq %q]`, id)})
			}
		}
		if err := c.do(ctx, http.MethodPatch, path, newPatch(ops), nil); err != nil {
			return err
		}
	}
	if add && len(missing) > 0 {
		return fmt.Errorf("%d member(s) not in the workspace yet (externalId %s)", len(missing), strings.Join(missing, ", "))
	}
	return nil
}

// ownGroup is the workspace id of op's group for a write. A recorded
// TargetID is used only after a GET shows that group still carries op's
// externalId, or none: an admin may have handed it to another IdP group (or
// the workspace reuses ids), and a group delete or member change cannot be
// undone for the people in it. Otherwise the group is found by identity
// (resolveGroup); so is one whose recorded id is gone (404), unless
// lookAfterGone is false (a delete: then errGone).
func (c *Client) ownGroup(ctx context.Context, op idsync.Op, lookAfterGone bool) (string, error) {
	if op.TargetID != "" {
		var g map[string]any
		q := url.Values{"excludedAttributes": {"members"}}
		err := c.do(ctx, http.MethodGet, "/Groups/"+url.PathEscape(op.TargetID)+"?"+q.Encode(), nil, &g)
		switch {
		case statusOf(err) == http.StatusNotFound:
			if !lookAfterGone {
				return "", errGone
			}
		case err != nil:
			return "", err
		case owned(str(g["externalId"]), groupExt(op)):
			return op.TargetID, nil
		}
		op.TargetID = ""
	}
	return c.resolveGroup(ctx, op)
}

// resolveGroup is the workspace id of op's group: its TargetID, else the
// group lookupGroup finds (a *ConflictError when only another IdP group's
// group has that name); errGone when there is none.
func (c *Client) resolveGroup(ctx context.Context, op idsync.Op) (string, error) {
	if op.TargetID != "" {
		return op.TargetID, nil
	}
	name := groupName(op)
	if op.Group == nil && op.PrevGroup == nil {
		name = ""
	}
	g, err := c.lookupGroup(ctx, groupExt(op), name)
	if err != nil {
		return "", err
	}
	if g == nil {
		return "", errGone
	}
	return resourceID(g)
}
