package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
)

// SCIM Bulk (RFC 7644 §3.7): a run's creates, profile, role and activity
// changes and deletes go to the workspace as operations of Bulk requests
// (POST, PATCH, DELETE), within the maxOperations and maxPayloadSize
// /ServiceProviderConfig advertises, each with a bulkId. Each operation's
// status is handled like the single request's: 429/5xx are retryable for
// that op alone, 401/403 stop the run, 409 on a create goes down the adopt
// path, 404 on a delete is "already gone", 404 on a change goes down the
// single path (which finds the user's own account, or re-creates it), and
// anything else fails that op alone.
//
// An op goes in a Bulk request only when it needs no read first that the
// single path would do; otherwise it is applied alone, as Apply does:
//   - a change or delete of a recorded account is checked, as the single
//     path does with a GET, against the run's listing (targets.Index, by
//     workspace id): the account listed under that id must still carry
//     the user's externalId, or none. One the listing does not show, or
//     shows carrying another externalId (handed to someone else), or no
//     listing at all, goes alone: its GET, re-resolve by identity and
//     OwnerOf checks run as for any single op;
//   - ops without a recorded account (found by identity), changes with
//     update_method: put (a GET + PUT with If-Match), and disables of
//     unmanaged accounts go alone.
//
// Crash safety is the outbox's: every operation is idempotent (a create
// adopts what a lost answer created, a PATCH sets the same values again, a
// DELETE of a deleted account is "already gone"), and the resumed drain
// lists the workspace again before it batches.

var _ targets.Batcher = (*Client)(nil)

const (
	schemaBulkRequest = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	// bulkOverhead bounds the bytes a BulkRequest adds around its
	// operations' data (schemas, method, path, bulkId, separators).
	bulkOverhead   = 256
	bulkOpOverhead = 96
)

// BatchSize is the workspace's maxOperations when it offers Bulk and
// `bulk` is not false, else 0.
func (c *Client) BatchSize(ctx context.Context) int {
	if !c.bulk {
		return 0
	}
	if spc := c.providerConfig(ctx); spc.bulk {
		return spc.maxOps
	}
	return 0
}

// Batchable: creates, changes to an account (not merged, not with
// update_method: put, not of an unmanaged account) and deletes. Group ops
// are sent alone (a member change is already one PATCH per member_batch).
func (c *Client) Batchable(op idsync.Op) bool {
	switch op.Kind {
	case idsync.OpCreate:
		return true
	case idsync.OpUpdate, idsync.OpSetRole, idsync.OpEnable, idsync.OpDisable:
		return !c.put && op.Unmanaged == ""
	case idsync.OpDelete:
		return op.Unmanaged == ""
	}
	return false
}

type bulkOp struct {
	Method string `json:"method"`
	BulkID string `json:"bulkId,omitempty"`
	Path   string `json:"path"`
	Data   any    `json:"data,omitempty"`
}

type bulkAnswer struct {
	BulkID   string          `json:"bulkId"`
	Location string          `json:"location"`
	Method   string          `json:"method"`
	Status   json.RawMessage `json:"status"`
	Response json.RawMessage `json:"response"`
}

// bulkResponse is a BulkResponse to sent operations: its answers are
// counted before decoding (decodeAnswer), one per operation and a margin.
type bulkResponse struct {
	Operations []bulkAnswer `json:"Operations"`
	sent       int
}

func (r *bulkResponse) maxAnswers() int { return 2*r.sent + 16 }

// pendingBulk is an op waiting for its Bulk request.
type pendingBulk struct {
	i    int // index in ApplyBatch's ops
	req  bulkOp
	size int
	want idsync.Account // create: the account as sent
	id   string         // change, delete: the workspace id written to
}

// ApplyBatch applies ops, each for another user; see targets.Batcher and
// the rules above. Creates whose account the run's index (or a lookup,
// without one) finds are adopted alone; ops that need a read first are
// applied alone; the rest go in Bulk requests.
func (c *Client) ApplyBatch(ctx context.Context, ops []idsync.Op) []targets.Result {
	out := make([]targets.Result, len(ops))
	var queued []pendingBulk
	queue := func(i int, p pendingBulk, data any) {
		b, err := json.Marshal(data)
		if err != nil {
			out[i].Err = err
			return
		}
		p.i, p.size = i, len(b)+len(p.req.Path)+bulkOpOverhead
		if data != nil {
			p.req.Data = data
		}
		queued = append(queued, p)
	}
	for i, op := range ops {
		switch op.Kind {
		case idsync.OpCreate:
			p, data, done := c.bulkCreate(ctx, op, &out[i])
			if !done {
				queue(i, p, data)
			}
			continue
		case idsync.OpUpdate, idsync.OpSetRole, idsync.OpEnable, idsync.OpDisable, idsync.OpDelete:
			if !c.Batchable(op) || !c.listedAsOwn(ctx, op) {
				break // alone: the single path reads first
			}
			path := "/Users/" + url.PathEscape(op.TargetID)
			if op.Kind == idsync.OpDelete {
				if c.preset.neverDelete {
					// OfficeRnD keeps people as "former" members.
					queue(i, pendingBulk{req: bulkOp{Method: http.MethodPatch, Path: path}, id: op.TargetID}, newPatch([]patchOp{activeOp(false)}))
				} else {
					queue(i, pendingBulk{req: bulkOp{Method: http.MethodDelete, Path: path}, id: op.TargetID}, nil)
				}
				continue
			}
			patch, err := c.userPatch(op)
			switch {
			case err != nil:
				out[i].Err = err
			case len(patch) == 0:
				out[i].Applied, out[i].Err = c.applied(op, op.TargetID) // nothing to send
			default:
				queue(i, pendingBulk{req: bulkOp{Method: http.MethodPatch, Path: path}, id: op.TargetID}, newPatch(patch))
			}
			continue
		}
		out[i].Applied, out[i].Err = c.Apply(ctx, op)
	}
	spc := c.providerConfig(ctx)
	maxOps, maxPayload := max(spc.maxOps, 1), spc.maxPayload
	if !spc.bulk {
		maxOps = 0 // Bulk withdrawn since the phase began: each op alone
	}
	for len(queued) > 0 {
		n, size := 0, bulkOverhead
		for n < len(queued) && n < maxOps && (maxPayload <= 0 || size+queued[n].size <= maxPayload) {
			size += queued[n].size
			n++
		}
		if n == 0 {
			// One op larger than a Bulk request may be: send it alone.
			p := queued[0]
			out[p.i].Applied, out[p.i].Err = c.Apply(ctx, ops[p.i])
			queued = queued[1:]
			continue
		}
		c.sendBulk(ctx, ops, queued[:n], out)
		queued = queued[n:]
	}
	return out
}

// bulkCreate prepares a create: done when it was settled without a Bulk
// operation (adopted, or failed), else the POST to queue.
func (c *Client) bulkCreate(ctx context.Context, op idsync.Op, r *targets.Result) (p pendingBulk, data map[string]any, done bool) {
	want, err := c.desired(op)
	if err != nil {
		r.Err = err
		return p, nil, true
	}
	have, indexed, err := c.indexedUser(ctx, want.ExternalID, want.UserName)
	if err == nil && !indexed {
		have, err = c.lookupAccount(ctx, want.ExternalID, want.UserName)
	}
	switch {
	case err != nil:
		r.Err = fmt.Errorf("scim: create user %q: %w", want.UserName, err)
	case have != nil:
		// Adopted alone: a PATCH (or nothing) of what differs.
		err := c.adopt(ctx, *have, want)
		switch {
		case err == nil:
			r.Applied, _ = c.applied(op, have.TargetID)
		case statusOf(err) == http.StatusNotFound:
			r.Applied, r.Err = c.createUser(ctx, op) // deleted since: look again
		default:
			r.Err = fmt.Errorf("scim: create user %q: %w", want.UserName, err)
		}
	default:
		return pendingBulk{req: bulkOp{Method: http.MethodPost, Path: "/Users"}, want: want}, c.userResource(want), false
	}
	return p, nil, true
}

// listedAsOwn reports whether op's recorded account may be written to
// without a read: the run's listing shows it under its recorded id,
// carrying the user's externalId or none (recordedFor) — what mine checks
// after the single path's GET.
func (c *Client) listedAsOwn(ctx context.Context, op idsync.Op) bool {
	x := targets.IndexOf(ctx)
	if x == nil || op.TargetID == "" {
		return false
	}
	a, ok := x.ByTargetID(op.TargetID)
	return ok && a.Account != nil && c.recordedFor(op, a.Account.ExternalID, a.Account.UserName)
}

// sendBulk sends one Bulk request and fills its operations' results.
func (c *Client) sendBulk(ctx context.Context, ops []idsync.Op, queued []pendingBulk, out []targets.Result) {
	list := make([]bulkOp, len(queued))
	for k, p := range queued {
		list[k] = p.req
		list[k].BulkID = string(ops[p.i].Kind) + "-" + strconv.Itoa(k)
	}
	req := map[string]any{"schemas": []string{schemaBulkRequest}, "Operations": list}
	resp := bulkResponse{sent: len(list)}
	err := c.do(ctx, http.MethodPost, "/Bulk", req, &resp)
	switch statusOf(err) {
	case http.StatusRequestEntityTooLarge, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		// The workspace lowered its limits or stopped offering Bulk since
		// /ServiceProviderConfig was read: read it again, and retry the
		// ops within what it says now (alone, if no Bulk).
		c.forgetProviderConfig()
		err = &targets.RetryableError{Err: err}
	}
	answers := make(map[string]bulkAnswer, len(resp.Operations))
	for _, a := range resp.Operations {
		if a.BulkID != "" {
			answers[a.BulkID] = a
		}
	}
	for k, p := range queued {
		op := ops[p.i]
		a, ok := answers[list[k].BulkID]
		if !ok && list[k].Method != http.MethodPost && len(resp.Operations) == len(list) && resp.Operations[k].BulkID == "" &&
			(resp.Operations[k].Method == "" || strings.EqualFold(resp.Operations[k].Method, list[k].Method)) {
			// bulkId is required back only for POST (RFC 7644 §3.7.3): a
			// complete answer without them is in request order. A create's
			// answer never is matched by position: it would record one
			// person's new account for another; without its bulkId the
			// create is tried again (and adopts on 409).
			a, ok = resp.Operations[k], true
		}
		switch {
		case err != nil:
			out[p.i].Err = bulkError(op, err)
		case !ok:
			// Not processed (the workspace stopped early): try again.
			out[p.i].Err = bulkError(op, &targets.RetryableError{Err: errors.New("the bulk response has no answer for this operation")})
		default:
			out[p.i] = c.bulkResult(ctx, op, p, a)
		}
	}
}

// bulkResult is what one operation's answer means for its op.
func (c *Client) bulkResult(ctx context.Context, op idsync.Op, p pendingBulk, a bulkAnswer) (r targets.Result) {
	status := bulkStatus(a.Status)
	switch {
	case status >= 200 && status < 300:
		if op.Kind == idsync.OpDelete {
			return r // deleted, or made former
		}
		id := p.id
		if op.Kind == idsync.OpCreate {
			var err error
			if id, err = bulkResourceID(a, p.want.ExternalID); err != nil {
				r.Err = bulkError(op, err)
				return r
			}
		}
		r.Applied, r.Err = c.applied(op, id)
	case status == http.StatusNotFound && op.Kind == idsync.OpDelete:
		// Already gone, as a single DELETE's 404 is.
	case status == http.StatusNotFound && op.Kind != idsync.OpCreate:
		// Deleted since the listing: the single path finds the user's own
		// account (or re-creates it, or has nothing left to disable).
		r.Applied, r.Err = c.Apply(ctx, op)
	case status == http.StatusConflict && op.Kind == idsync.OpCreate:
		r.Applied, r.Err = c.createConflict(ctx, op, p.want)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		r.Err = bulkError(op, fmt.Errorf("workspace answered %d: the bearer token was rejected (wrong, expired or lacking permission); check target.token: %w", status, targets.ErrUnauthorized))
	case status == http.StatusTooManyRequests || status >= 500 || status == 0:
		r.Err = bulkError(op, &targets.RetryableError{Err: parseError(status, a.Response)})
	default:
		r.Err = bulkError(op, parseError(status, a.Response))
	}
	return r
}

// bulkError names the op an operation's failure belongs to, as the single
// path's errors do.
func bulkError(op idsync.Op, err error) error {
	verb := verbs[op.Kind]
	switch op.Kind {
	case idsync.OpCreate:
		verb = "create"
	case idsync.OpDelete:
		verb = "delete"
	}
	return fmt.Errorf("scim: %s user %q (bulk): %w", verb, op.Name(), err)
}

// bulkStatus reads an operation's status: a string in RFC 7644's examples
// ("201"), a number in some workspaces; 0 when neither.
func bulkStatus(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		return n
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	return 0
}

// bulkResourceID is the id of a resource a Bulk operation created: from
// its response body if the workspace sent one, else the last segment of its
// location; checked like every answer's id (resourceID), and against the
// externalId sent (createdID).
func bulkResourceID(a bulkAnswer, ext string) (string, error) {
	if len(a.Response) > 0 {
		var r map[string]any
		if json.Unmarshal(a.Response, &r) == nil && r["id"] != nil {
			return createdID(r, ext)
		}
	}
	loc := strings.TrimRight(a.Location, "/")
	if i := strings.LastIndexByte(loc, '/'); i >= 0 && i < len(loc)-1 {
		return resourceID(map[string]any{"id": loc[i+1:]})
	}
	return "", errNoID
}
