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
	"github.com/idsync/idsync/targets"
)

// Apply performs op with one attempt per request; see targets.Target.
func (c *Client) Apply(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	switch op.Kind {
	case idsync.OpCreate:
		return c.createUser(ctx, op)
	case idsync.OpUpdate, idsync.OpSetRole, idsync.OpEnable, idsync.OpDisable:
		return c.modifyUser(ctx, []idsync.Op{op})
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

// ApplyMerged sends the changes of several ops on one user as one PATCH
// (or one GET + PUT); see targets.Merger.
func (c *Client) ApplyMerged(ctx context.Context, ops []idsync.Op) (idsync.Applied, error) {
	if len(ops) == 0 {
		return idsync.Applied{}, errors.New("scim: merged apply of no ops")
	}
	for _, op := range ops {
		if !targets.Mergeable(op.Kind) || op.ObjectID != ops[0].ObjectID {
			return idsync.Applied{}, fmt.Errorf("scim: %s %q cannot be merged with %s %q", op.Kind, op.Name(), ops[0].Kind, ops[0].Name())
		}
	}
	return c.modifyUser(ctx, ops)
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
	// (invited by hand, or created by a run that crashed before recording
	// it), but never an account that carries another person's externalId.
	// The run's index (targets.Indexer) answers without a request.
	have, indexed, err := c.indexedUser(ctx, want.ExternalID, want.UserName)
	if err != nil {
		return fail(err)
	}
	if indexed && have != nil {
		err := c.adopt(ctx, *have, want)
		if err == nil {
			return c.applied(op, have.TargetID)
		}
		if statusOf(err) != http.StatusNotFound {
			return fail(err)
		}
		// Deleted since the listing: look again.
		indexed = false
	}
	if !indexed {
		if have, err = c.lookupAccount(ctx, want.ExternalID, want.UserName); err != nil {
			return fail(err)
		}
	}
	if have == nil {
		var created userJSON
		err = c.do(ctx, http.MethodPost, "/Users", c.userResource(want), &created)
		if err == nil {
			id, err := createdID(created, want.ExternalID)
			if err != nil {
				return fail(err)
			}
			return c.applied(op, id)
		}
		if statusOf(err) != http.StatusConflict {
			return fail(err)
		}
		return c.createConflict(ctx, op, want)
	}
	if err := c.adopt(ctx, *have, want); err != nil {
		return fail(err)
	}
	return c.applied(op, have.TargetID)
}

// createConflict finishes a create the workspace answered 409: someone
// (another run, an admin, a batch whose answer was lost) created it since
// the lookup or the index; the same rule decides whether it is ours to
// adopt.
func (c *Client) createConflict(ctx context.Context, op idsync.Op, want idsync.Account) (idsync.Applied, error) {
	fail := func(err error) (idsync.Applied, error) {
		return idsync.Applied{}, fmt.Errorf("scim: create user %q: %w", want.UserName, err)
	}
	have, err := c.lookupAccount(ctx, want.ExternalID, want.UserName)
	if err != nil {
		return fail(err)
	}
	if have == nil {
		return fail(errors.New("workspace answered 409 Conflict but has no user with that userName or externalId to adopt"))
	}
	if err := c.adopt(ctx, *have, want); err != nil {
		return fail(err)
	}
	return c.applied(op, have.TargetID)
}

// lookupAccount is lookupUser's answer as the index gives it.
func (c *Client) lookupAccount(ctx context.Context, ext, userName string) (*idsync.Applied, error) {
	u, err := c.lookupUser(ctx, ext, userName)
	if u == nil || err != nil {
		return nil, err
	}
	a := c.account(u)
	return &idsync.Applied{TargetID: u.id(), Account: &a}, nil
}

// adopt brings an existing workspace user to want, sending only what differs.
func (c *Client) adopt(ctx context.Context, have idsync.Applied, want idsync.Account) error {
	cur := c.preset.shape(*have.Account)
	var fields []string
	for _, f := range idsync.DiffAttributes(cur, want) {
		fields = append(fields, f.Field)
	}
	ops := c.attrOps(want, fields, false)
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
	return c.modify(ctx, have.TargetID, ops, nil)
}

var verbs = map[idsync.OpKind]string{idsync.OpUpdate: "update", idsync.OpSetRole: "set role of", idsync.OpEnable: "enable", idsync.OpDisable: "disable"}

// userPatch is the PATCH operations that carry out one modify op.
func (c *Client) userPatch(op idsync.Op) ([]patchOp, error) {
	if op.Account == nil && (op.Kind == idsync.OpUpdate || op.Kind == idsync.OpSetRole) {
		return nil, fmt.Errorf("scim: %s user %q: op has no account", op.Kind, op.Name())
	}
	var want idsync.Account
	if op.Account != nil {
		var err error
		if want, err = c.desired(op); err != nil {
			return nil, err
		}
	}
	switch op.Kind {
	case idsync.OpUpdate:
		var fields []string
		for _, f := range op.Changes {
			fields = append(fields, f.Field)
		}
		if len(fields) == 0 {
			fields = allAttrs
		}
		return c.attrOps(want, fields, false), nil
	case idsync.OpSetRole:
		return c.roleOps(want.Role), nil
	case idsync.OpEnable:
		return []patchOp{activeOp(true)}, nil
	case idsync.OpDisable:
		return []patchOp{activeOp(false)}, nil
	}
	return nil, fmt.Errorf("scim: %s user %q: not a modify op", op.Kind, op.Name())
}

// modifyUser applies ops, all on one existing user, in one PATCH (or one
// GET + PUT): the operations of each op, in order.
func (c *Client) modifyUser(ctx context.Context, ops []idsync.Op) (idsync.Applied, error) {
	var patch []patchOp
	kinds := make([]string, len(ops))
	for i, op := range ops {
		p, err := c.userPatch(op)
		if err != nil {
			return idsync.Applied{}, err
		}
		patch = append(patch, p...)
		kinds[i] = string(op.Kind)
	}
	// who is the user as the last op leaves it, known also by the name
	// the first op found it under (for renames without a TargetID).
	first, last := ops[0], ops[len(ops)-1]
	who := last
	if first.Prev != nil {
		who.Prev = first.Prev
	}
	name := who.Name()
	verb := verbs[last.Kind]
	if len(ops) > 1 {
		verb = "apply " + strings.Join(kinds, ", ") + " to"
	}
	fail := func(err error) (idsync.Applied, error) {
		return idsync.Applied{}, fmt.Errorf("scim: %s user %q: %w", verb, name, err)
	}
	// A recorded id is checked before the write (one GET; PUT reads the
	// account anyway): it may name another person's account by now. An
	// account found by identity was checked by the lookup.
	var check func(userJSON) error
	if who.TargetID != "" {
		check = c.mine(who)
	}
	id, err := c.resolveUser(ctx, who)
	if err == nil {
		err = c.modify(ctx, id, patch, check)
		if statusOf(err) == http.StatusNotFound || errors.Is(err, errNotMine) {
			// Deleted (or re-created, or handed to someone else) in the
			// workspace behind idsync's back: find the user's own account.
			who.TargetID = ""
			if id, err = c.resolveUser(ctx, who); err == nil {
				err = c.modify(ctx, id, patch, nil)
			}
		}
	}
	switch {
	case errors.Is(err, errGone) && last.Kind == idsync.OpDisable:
		return idsync.Applied{}, nil // nothing left to disable
	case errors.Is(err, errGone) && last.Account != nil:
		// Someone deleted the account in the workspace: put it back as idsync wants it.
		return c.createUser(ctx, idsync.Op{Kind: idsync.OpCreate, ObjectID: last.ObjectID, Account: last.Account})
	case err != nil:
		return fail(err)
	}
	return c.applied(last, id)
}

func (c *Client) deleteUser(ctx context.Context, op idsync.Op) (idsync.Applied, error) {
	name := op.Name()
	fail := func(err error) (idsync.Applied, error) {
		return idsync.Applied{}, fmt.Errorf("scim: delete user %q: %w", name, err)
	}
	id, err := c.resolveUser(ctx, op)
	if err == nil && op.TargetID != "" {
		// A delete cannot be undone: check that the recorded id still names
		// this user's account (an admin may have handed it to someone else);
		// if not, find the user's account by identity.
		var u userJSON
		err = c.do(ctx, http.MethodGet, "/Users/"+url.PathEscape(id), nil, &u)
		switch {
		case statusOf(err) == http.StatusNotFound:
			return idsync.Applied{}, nil
		case err == nil && !c.recordedFor(op, str(u["externalId"]), str(u["userName"])):
			op.TargetID = ""
			id, err = c.resolveUser(ctx, op)
		}
	}
	if errors.Is(err, errGone) {
		return idsync.Applied{}, nil
	}
	if err != nil {
		return fail(err)
	}
	if c.preset.neverDelete {
		// OfficeRnD keeps people as "former" members.
		err = c.modify(ctx, id, []patchOp{activeOp(false)}, nil)
		if err != nil && statusOf(err) != http.StatusNotFound {
			return idsync.Applied{}, fmt.Errorf("scim: delete user %q (made former): %w", name, err)
		}
		return idsync.Applied{}, nil
	}
	err = c.do(ctx, http.MethodDelete, "/Users/"+url.PathEscape(id), nil, nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return fail(err)
	}
	return idsync.Applied{}, nil
}

// applied is op's result on the workspace account id. Every id comes from
// resourceID; an empty one here is a bug, and recording it would aim a
// later delete at the collection.
func (c *Client) applied(op idsync.Op, id string) (idsync.Applied, error) {
	if id == "" {
		return idsync.Applied{}, fmt.Errorf("scim: %s user %q: %w", op.Kind, op.Name(), errNoID)
	}
	return idsync.Applied{TargetID: id, Account: op.Account}, nil
}

// maxPrecondition bounds the GET + PUT rounds of one modify when the
// workspace answers 412 (the account changed between our read and write).
const maxPrecondition = 3

// modify sends ops to the user: one PATCH, or GET + PUT with
// update_method: put. No ops, no request.
//
// With check, the account is read first (PATCH: one more GET; PUT: the GET
// it does anyway) and nothing is written when check fails: the error is
// check's.
//
// A PUT replaces the whole account with what the GET returned plus ops, so
// a change made in between would be lost: when the GET returned an ETag
// (or meta.version, RFC 7644 §3.14) the PUT carries it in If-Match, and a
// 412 Precondition Failed starts over from a fresh GET.
func (c *Client) modify(ctx context.Context, id string, ops []patchOp, check func(userJSON) error) error {
	if len(ops) == 0 {
		return nil
	}
	path := "/Users/" + url.PathEscape(id)
	if !c.put {
		if check != nil {
			var res userJSON
			if err := c.do(ctx, http.MethodGet, path, nil, &res); err != nil {
				return err
			}
			if err := check(res); err != nil {
				return err
			}
		}
		return c.do(ctx, http.MethodPatch, path, newPatch(ops), nil)
	}
	for attempt := 1; ; attempt++ {
		var res userJSON
		hdr, err := c.doHeader(ctx, http.MethodGet, path, nil, nil, &res)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(res); err != nil {
				return err
			}
		}
		var ifMatch http.Header
		if tag := etag(hdr, res); tag != "" {
			ifMatch = http.Header{"If-Match": {tag}}
		}
		applyLocal(res, ops)
		_, err = c.doHeader(ctx, http.MethodPut, path, ifMatch, res, nil)
		if statusOf(err) != http.StatusPreconditionFailed {
			return err
		}
		if attempt >= maxPrecondition {
			return &targets.RetryableError{Err: fmt.Errorf("the account changed between each read and write (%d tries): %w", attempt, err)}
		}
	}
}

// etag is the version of a resource read with GET: its ETag header, else
// its meta.version; "" when the workspace has no versions.
func etag(hdr http.Header, res map[string]any) string {
	if t := hdr.Get("ETag"); t != "" {
		return t
	}
	if m, ok := res["meta"].(map[string]any); ok {
		return str(m["version"])
	}
	return ""
}

// userExt is the IdP id of op's user.
func userExt(op idsync.Op) string {
	if op.ObjectID != "" {
		return op.ObjectID
	}
	for _, a := range []*idsync.Account{op.Account, op.Prev} {
		if a != nil && a.ExternalID != "" {
			return a.ExternalID
		}
	}
	return ""
}

// resolveUser is the workspace id of op's user: its TargetID as recorded
// (callers that write check it, see mine), else the account carrying its
// externalId, else one found by userName (the desired one, then the last
// applied one, for renames) that carries no externalId or the same one.
// errGone when the workspace has no such account; an account of another IdP
// user (by externalId, or by idsync's record of it) is never returned: one
// carrying this user's externalId but recorded for another user is a
// *ConflictError.
func (c *Client) resolveUser(ctx context.Context, op idsync.Op) (string, error) {
	if op.TargetID != "" {
		return op.TargetID, nil
	}
	ext := userExt(op)
	u, err := c.userByExt(ctx, ext)
	if err != nil {
		return "", err
	}
	if u != nil {
		if err := claimed(ctx, targets.User, lookupKey("externalId", ext), u.id(), ext, ext); err != nil {
			return "", err
		}
		return u.id(), nil
	}
	var names []string
	for _, a := range []*idsync.Account{op.Account, op.Prev} {
		if a == nil {
			continue
		}
		if n := c.preset.shape(*a).UserName; n != "" && !slices.ContainsFunc(names, func(x string) bool { return strings.EqualFold(x, n) }) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		u, err := c.userByName(ctx, n)
		if err != nil {
			return "", err
		}
		if u == nil || !owned(str(u["externalId"]), ext) {
			continue
		}
		owner, err := targets.OwnerOf(ctx, targets.User, u.id())
		if err != nil {
			return "", fmt.Errorf("check which IdP user idsync manages workspace user %s for: %w", u.id(), err)
		}
		if owner == "" || owner == ext {
			return u.id(), nil
		}
	}
	return "", errGone
}

// errNotMine marks a recorded workspace id whose account now carries
// another IdP user's externalId: an admin handed it over, or the workspace
// reuses ids. Nothing is written to it; the user is looked up by identity.
var errNotMine = errors.New("the recorded account carries another externalId")

// mine checks an account read by its recorded id before a write of op:
// it must carry op's externalId, or no externalId (see recordedFor).
func (c *Client) mine(op idsync.Op) func(userJSON) error {
	return func(u userJSON) error {
		if !c.recordedFor(op, str(u["externalId"]), str(u["userName"])) {
			return errNotMine
		}
		return nil
	}
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
			if _, err := resourceID(r); err != nil {
				return nil, fmt.Errorf("look up %s: %w", filter, err)
			}
			return r, nil
		}
	}
	return nil, nil
}
