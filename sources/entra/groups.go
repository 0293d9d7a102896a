package entra

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/idsync/idsync"
)

var groupSelect = []string{"id", "displayName", "description", "members"}

// pullGroups follows groups/delta from link ("" = a new full round) to the
// round's deltaLink, which it returns.
//
// Graph reports direct members only (members@delta), a large group spread
// over several pages (each instance with some of its members), and a group
// whose membership alone changed as {id, members@delta}: so a group change
// is emitted only when the properties are present, and members are emitted
// as they come — the engine merges them.
func (s *Source) pullGroups(ctx context.Context, link string, emit func([]idsync.Change) error) (string, error) {
	rb := groups.NewDeltaRequestBuilderInternal(map[string]string{}, s.adapter)
	for page := 1; ; page++ {
		var resp groups.DeltaGetResponseable
		var err error
		if link == "" {
			resp, err = rb.GetAsDeltaGetResponse(ctx, &groups.DeltaRequestBuilderGetRequestConfiguration{
				QueryParameters: &groups.DeltaRequestBuilderGetQueryParameters{Select: groupSelect},
			})
		} else {
			resp, err = rb.WithUrl(link).GetAsDeltaGetResponse(ctx, nil)
		}
		if err != nil {
			return "", s.graphError(fmt.Sprintf("groups delta page %d", page), err)
		}
		var changes []idsync.Change
		for _, g := range resp.GetValue() {
			changes = appendGroupChanges(changes, g)
		}
		if len(changes) > 0 {
			if err := emit(changes); err != nil {
				return "", err
			}
		}
		if next := str(resp.GetOdataNextLink()); next != "" {
			link = next
			continue
		}
		if delta := str(resp.GetOdataDeltaLink()); delta != "" {
			return delta, nil
		}
		return "", fmt.Errorf("entra: groups delta page %d: neither nextLink nor deltaLink", page)
	}
}

func appendGroupChanges(changes []idsync.Change, g models.Groupable) []idsync.Change {
	id := str(g.GetId())
	if id == "" {
		return changes
	}
	extra := g.GetAdditionalData()
	if _, ok := removedReason(extra); ok {
		return append(changes, idsync.GroupRemovedChange(id))
	}
	if name := g.GetDisplayName(); name != nil {
		changes = append(changes, idsync.GroupChange(idsync.Group{ID: id, Name: *name, Description: str(g.GetDescription())}))
	}
	members, _ := extra["members@delta"].([]any)
	for _, m := range members {
		obj, ok := m.(map[string]any)
		if !ok {
			continue
		}
		mid := anyStr(obj["id"])
		// Only users and nested groups matter for provisioning; devices,
		// contacts and service principals in a group are skipped.
		var kind idsync.MemberKind
		switch anyStr(obj["@odata.type"]) {
		case "#microsoft.graph.user":
			kind = idsync.MemberUser
		case "#microsoft.graph.group":
			kind = idsync.MemberGroup
		default:
			continue
		}
		if mid == "" {
			continue
		}
		if _, removed := obj["@removed"]; removed {
			changes = append(changes, idsync.MemberRemovedChange(id, mid))
		} else {
			changes = append(changes, idsync.MemberAddedChange(id, mid, kind))
		}
	}
	return changes
}
