package entra

import (
	"context"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"

	"github.com/idsync/idsync"
)

var groupSelect = []string{"id", "displayName", "description", "members"}

// graphGroup is a groups/delta entry.
type graphGroup struct {
	ID          string        `json:"id"`
	DisplayName *string       `json:"displayName"`
	Description string        `json:"description"`
	Removed     *removedMark  `json:"@removed"`
	Members     []graphMember `json:"members@delta"`
}

type graphMember struct {
	Type    string       `json:"@odata.type"`
	ID      string       `json:"id"`
	Removed *removedMark `json:"@removed"`
}

// pullGroups follows groups/delta from link ("" = a new full round) to the
// round's deltaLink, which it returns.
//
// Graph reports direct members only (members@delta), spreads a large group
// over several pages (each instance with some of its members), and reports
// a group whose membership alone changed as {id, members@delta}: so a group
// change is emitted only when displayName is present, and members as they
// come — the engine merges them.
func (s *Source) pullGroups(ctx context.Context, link string, emit func([]idsync.Change) error) (string, error) {
	rb := groups.NewDeltaRequestBuilderInternal(map[string]string{}, s.adapter)
	withURL := func(u string) (*abs.RequestInformation, error) {
		return rb.WithUrl(u).ToGetRequestInformation(ctx, nil)
	}
	var first *abs.RequestInformation
	var err error
	if link == "" {
		first, err = rb.ToGetRequestInformation(ctx, &groups.DeltaRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.DeltaRequestBuilderGetQueryParameters{Select: groupSelect},
		})
	} else {
		first, err = withURL(link)
	}
	if err != nil {
		return "", err
	}
	var d groupsDecoder
	decode := func(body []byte, asked string, onNext func(string)) (deltaResult, error) {
		return d.decode(s.cfg.GraphURL, asked, body, maxPageEntries, onNext)
	}
	return followDelta(ctx, s, "groups", first, withURL, decode, nil, emit)
}

// appendGroupChanges is what a groups/delta entry, as encoding/json decodes
// it, means: the reference the page decoder (groupsDecoder) is held to by
// FuzzDeltaPageDecoder and FuzzGraphPage.
func appendGroupChanges(changes []idsync.Change, g *graphGroup) []idsync.Change {
	if g.ID == "" {
		return changes
	}
	if g.Removed != nil {
		return append(changes, idsync.GroupRemovedChange(g.ID))
	}
	if g.DisplayName != nil {
		changes = append(changes, idsync.GroupChange(idsync.Group{ID: g.ID, Name: *g.DisplayName, Description: g.Description}))
	}
	for _, m := range g.Members {
		// Only users and nested groups matter for provisioning; devices,
		// contacts and service principals in a group are skipped.
		var kind idsync.MemberKind
		switch m.Type {
		case "#microsoft.graph.user":
			kind = idsync.MemberUser
		case "#microsoft.graph.group":
			kind = idsync.MemberGroup
		default:
			continue
		}
		if m.ID == "" {
			continue
		}
		if m.Removed != nil {
			changes = append(changes, idsync.MemberRemovedChange(g.ID, m.ID))
		} else {
			changes = append(changes, idsync.MemberAddedChange(g.ID, m.ID, kind))
		}
	}
	return changes
}
