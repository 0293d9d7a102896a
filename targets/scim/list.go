package scim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets"
)

// pageSize is the count asked for per page; workspaces may answer fewer.
const pageSize = 100

// ListUsers emits every workspace user, a page at a time (startIndex/count
// paging, RFC 7644 §3.4.2.4). Each page is retried with targets.Backoff on
// its own, because a listing cannot be resumed half way by the engine.
//
// A page holding no account the listing has not seen ends it with an
// error: a workspace that ignores startIndex (or omits totalResults while
// answering the same page) would otherwise be listed for ever.
func (c *Client) ListUsers(ctx context.Context, emit func([]idsync.Applied) error) error {
	start := 1
	seen := map[string]bool{}
	for {
		var lr listResponse
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(pageSize)}}
		err := targets.Backoff{Sleep: c.sleep}.Retry(ctx, func() error {
			lr = listResponse{}
			return c.do(ctx, http.MethodGet, "/Users?"+q.Encode(), nil, &lr)
		})
		if err != nil {
			return fmt.Errorf("scim: list users (startIndex %d): %w", start, err)
		}
		if len(lr.Resources) == 0 {
			if lr.TotalResults >= start {
				// A listing that stops short is not the workspace: callers
				// take a missing account as deleted by hand.
				return fmt.Errorf("scim: list users: the workspace stopped at %d of the %d accounts it counts", start-1, lr.TotalResults)
			}
			return nil
		}
		page := make([]idsync.Applied, 0, len(lr.Resources))
		fresh := false
		for i, r := range lr.Resources {
			id, err := resourceID(r)
			if err != nil {
				return fmt.Errorf("scim: list users (startIndex %d, entry %d): %w", start, i+1, err)
			}
			if !seen[id] {
				seen[id], fresh = true, true
			}
			a := c.account(r)
			page = append(page, idsync.Applied{TargetID: id, Account: &a})
		}
		if !fresh {
			return fmt.Errorf("scim: list users (startIndex %d): the workspace answered only accounts it had listed already; it does not page by startIndex (RFC 7644 §3.4.2.4)", start)
		}
		if err := emit(page); err != nil {
			return err
		}
		start += len(lr.Resources)
		if lr.TotalResults > 0 && start > lr.TotalResults {
			return nil
		}
	}
}

var _ targets.GroupLister = (*Client)(nil)

// groupPage is the count asked for per page of groups: pages carry every
// member, and a few big teams must stay well within maxBody.
const groupPage = 10

// ListGroups emits every workspace group with its members (a page at a
// time, as ListUsers), for drift reconcile of pushed groups. A workspace
// without groups (404 on /Groups) lists none.
func (c *Client) ListGroups(ctx context.Context, emit func([]targets.ListedGroup) error) error {
	seen := map[string]bool{}
	for start := 1; ; {
		var lr listResponse
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(groupPage)}}
		err := targets.Backoff{Sleep: c.sleep}.Retry(ctx, func() error {
			lr = listResponse{}
			return c.do(ctx, http.MethodGet, "/Groups?"+q.Encode(), nil, &lr)
		})
		if statusOf(err) == http.StatusNotFound && start == 1 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("scim: list groups (startIndex %d): %w", start, err)
		}
		if len(lr.Resources) == 0 {
			if lr.TotalResults >= start {
				return fmt.Errorf("scim: list groups: the workspace stopped at %d of the %d groups it counts", start-1, lr.TotalResults)
			}
			return nil
		}
		page := make([]targets.ListedGroup, 0, len(lr.Resources))
		fresh := false
		for i, r := range lr.Resources {
			id, err := resourceID(r)
			if err != nil {
				return fmt.Errorf("scim: list groups (startIndex %d, entry %d): %w", start, i+1, err)
			}
			if !seen[id] {
				seen[id], fresh = true, true
			}
			g := targets.ListedGroup{TargetID: id, ExternalID: str(r["externalId"]), DisplayName: str(r["displayName"]), Description: str(r["description"])}
			ms, _ := r["members"].([]any)
			for _, m := range ms {
				if m, ok := m.(map[string]any); ok && str(m["value"]) != "" {
					g.Members = append(g.Members, str(m["value"]))
				}
			}
			page = append(page, g)
		}
		if !fresh {
			return fmt.Errorf("scim: list groups (startIndex %d): the workspace answered only groups it had listed already; it does not page by startIndex (RFC 7644 §3.4.2.4)", start)
		}
		if err := emit(page); err != nil {
			return err
		}
		start += len(lr.Resources)
		if lr.TotalResults > 0 && start > lr.TotalResults {
			return nil
		}
	}
}
