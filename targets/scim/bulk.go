package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
)

// SCIM Bulk (RFC 7644 §3.7): a first sync's creates go to the workspace as
// POST operations of Bulk requests, within the maxOperations and
// maxPayloadSize /ServiceProviderConfig advertises, each with a bulkId.
// Each operation's status is handled like a single request's: 429/5xx are
// retryable for that op alone, 409 goes down the adopt path, anything else
// fails that op alone.

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

// Batchable: creates go in Bulk requests; every other op is sent alone.
func (c *Client) Batchable(op idsync.Op) bool { return op.Kind == idsync.OpCreate }

type bulkOp struct {
	Method string         `json:"method"`
	BulkID string         `json:"bulkId,omitempty"`
	Path   string         `json:"path"`
	Data   map[string]any `json:"data,omitempty"`
}

type bulkAnswer struct {
	BulkID   string          `json:"bulkId"`
	Location string          `json:"location"`
	Status   json.RawMessage `json:"status"`
	Response json.RawMessage `json:"response"`
}

// pendingCreate is a create waiting for its Bulk request.
type pendingCreate struct {
	i    int // index in ApplyBatch's ops
	want idsync.Account
	data map[string]any
	size int
}

// ApplyBatch applies creates, each for another user; see targets.Batcher.
// Accounts the run's index (or a lookup, without one) finds are adopted
// one by one; the rest are POSTed in Bulk requests.
func (c *Client) ApplyBatch(ctx context.Context, ops []idsync.Op) []targets.Result {
	out := make([]targets.Result, len(ops))
	var posts []pendingCreate
	for i, op := range ops {
		if op.Kind != idsync.OpCreate {
			out[i].Applied, out[i].Err = c.Apply(ctx, op)
			continue
		}
		want, err := c.desired(op)
		if err != nil {
			out[i].Err = err
			continue
		}
		have, indexed, err := c.indexedUser(ctx, want.ExternalID, want.UserName)
		if err == nil && !indexed {
			have, err = c.lookupAccount(ctx, want.ExternalID, want.UserName)
		}
		switch {
		case err != nil:
			out[i].Err = fmt.Errorf("scim: create user %q: %w", want.UserName, err)
		case have != nil:
			// Adopted alone: a PATCH (or nothing) of what differs.
			err := c.adopt(ctx, *have, want)
			switch {
			case err == nil:
				out[i].Applied, _ = c.applied(op, have.TargetID)
			case statusOf(err) == http.StatusNotFound:
				out[i].Applied, out[i].Err = c.createUser(ctx, op) // deleted since: look again
			default:
				out[i].Err = fmt.Errorf("scim: create user %q: %w", want.UserName, err)
			}
		default:
			data := c.userResource(want)
			b, err := json.Marshal(data)
			if err != nil {
				out[i].Err = err
				continue
			}
			posts = append(posts, pendingCreate{i: i, want: want, data: data, size: len(b) + bulkOpOverhead})
		}
	}
	spc := c.providerConfig(ctx)
	maxOps, maxPayload := max(spc.maxOps, 1), spc.maxPayload
	for len(posts) > 0 {
		n, size := 0, bulkOverhead
		for n < len(posts) && n < maxOps && (maxPayload <= 0 || size+posts[n].size <= maxPayload) {
			size += posts[n].size
			n++
		}
		if n == 0 {
			// One account larger than a Bulk request may be: send it alone.
			p := posts[0]
			out[p.i].Applied, out[p.i].Err = c.createUser(ctx, ops[p.i])
			posts = posts[1:]
			continue
		}
		c.sendBulk(ctx, ops, posts[:n], out)
		posts = posts[n:]
	}
	return out
}

// sendBulk sends one Bulk request of creates and fills their results.
func (c *Client) sendBulk(ctx context.Context, ops []idsync.Op, posts []pendingCreate, out []targets.Result) {
	req := map[string]any{"schemas": []string{schemaBulkRequest}}
	list := make([]bulkOp, len(posts))
	for k, p := range posts {
		list[k] = bulkOp{Method: http.MethodPost, BulkID: "create-" + strconv.Itoa(k), Path: "/Users", Data: p.data}
	}
	req["Operations"] = list
	var resp struct {
		Operations []bulkAnswer `json:"Operations"`
	}
	err := c.do(ctx, http.MethodPost, "/Bulk", req, &resp)
	answers := make(map[string]bulkAnswer, len(resp.Operations))
	for _, a := range resp.Operations {
		answers[a.BulkID] = a
	}
	for k, p := range posts {
		fail := func(err error) {
			out[p.i].Err = fmt.Errorf("scim: create user %q (bulk): %w", p.want.UserName, err)
		}
		if err != nil {
			fail(err)
			continue
		}
		a, ok := answers[list[k].BulkID]
		if !ok {
			// Not processed (the workspace stopped early): try again.
			fail(&targets.RetryableError{Err: errors.New("the bulk response has no answer for this operation")})
			continue
		}
		status := bulkStatus(a.Status)
		switch {
		case status >= 200 && status < 300:
			id, err := bulkResourceID(a)
			if err != nil {
				fail(err)
				continue
			}
			out[p.i].Applied, _ = c.applied(ops[p.i], id)
		case status == http.StatusConflict:
			out[p.i].Applied, out[p.i].Err = c.createConflict(ctx, ops[p.i], p.want)
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			fail(fmt.Errorf("workspace answered %d: the bearer token was rejected (wrong, expired or lacking permission); check target.token: %w", status, targets.ErrUnauthorized))
		case status == http.StatusTooManyRequests || status >= 500 || status == 0:
			fail(&targets.RetryableError{Err: parseError(status, a.Response)})
		default:
			fail(parseError(status, a.Response))
		}
	}
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
// location; checked like every answer's id (resourceID).
func bulkResourceID(a bulkAnswer) (string, error) {
	if len(a.Response) > 0 {
		var r map[string]any
		if json.Unmarshal(a.Response, &r) == nil && r["id"] != nil {
			return resourceID(r)
		}
	}
	loc := strings.TrimRight(a.Location, "/")
	if i := strings.LastIndexByte(loc, '/'); i >= 0 && i < len(loc)-1 {
		return resourceID(map[string]any{"id": loc[i+1:]})
	}
	return "", errNoID
}
