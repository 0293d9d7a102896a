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

var _ targets.Indexer = (*Client)(nil)

// IndexUsers lists the workspace in the largest pages it allows and
// returns its accounts by externalId and userName, so each of a run's
// creates is one POST; see targets.Indexer. Listing stops (nil index) once
// the first page shows it would take more pages than the two lookups per
// create it saves: one create in a workspace of 100,000 keeps its lookups.
func (c *Client) IndexUsers(ctx context.Context, creates int) (*targets.Index, error) {
	if creates <= 0 {
		return nil, nil
	}
	count := c.providerConfig(ctx).maxResults
	if count <= 0 || count > defaultListPage {
		count = defaultListPage
	}
	x := targets.NewIndex()
	for start := 1; ; {
		var lr listResponse
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(count)}}
		err := targets.Backoff{}.Retry(ctx, func() error {
			lr = listResponse{}
			return c.do(ctx, http.MethodGet, "/Users?"+q.Encode(), nil, &lr)
		})
		if err != nil {
			return nil, fmt.Errorf("scim: index workspace users (startIndex %d): %w", start, err)
		}
		got := len(lr.Resources)
		if start == 1 && got > 0 && lr.TotalResults > got {
			if pages := (lr.TotalResults + got - 1) / got; pages > 2*creates {
				return nil, nil
			}
		}
		for _, r := range lr.Resources {
			a := c.account(r)
			x.Add(idsync.Applied{TargetID: userJSON(r).id(), Account: &a})
		}
		start += got
		if got == 0 || start > lr.TotalResults {
			return x, nil
		}
	}
}

// indexedUser finds the account a create for (ext, userName) may adopt in
// the run's index, under the rules of lookupUser. found is false when ctx
// carries no index (look up instead); have is nil when the index has no
// such account (POST, and look up on 409).
func (c *Client) indexedUser(ctx context.Context, ext, userName string) (have *idsync.Applied, found bool, err error) {
	x := targets.IndexOf(ctx)
	if x == nil {
		return nil, false, nil
	}
	if a, ok := x.ByExternalID(ext); ok {
		if err := claimed(ctx, targets.User, lookupKey("externalId", ext), a.TargetID, ext, ext); err != nil {
			return nil, true, err
		}
		return &a, true, nil
	}
	a, ok := x.ByUserName(userName)
	if !ok {
		return nil, true, nil
	}
	key, holder := lookupKey("userName", userName), a.Account.ExternalID
	if !owned(holder, ext) {
		return nil, true, &ConflictError{Kind: "user", Key: key, TargetID: a.TargetID, Holder: holder, Want: ext}
	}
	if err := claimed(ctx, targets.User, key, a.TargetID, holder, ext); err != nil {
		return nil, true, err
	}
	return &a, true, nil
}
