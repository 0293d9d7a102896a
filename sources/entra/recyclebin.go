package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/microsoftgraph/msgraph-sdk-go/directory"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/idsync/idsync"
)

// What absence means in Entra. A full users/delta round lists live users
// only: a user in the recycle bin (soft-deleted, restorable for 30 days) is
// not in it, and neither is one deleted for good. The engine takes a user a
// full read does not mention for permanently deleted (sources.Source), so a
// full read also lists the recycle bin's users
// (/directory/deletedItems/microsoft.graph.user, covered by User.Read.All)
// and reports each as a soft removal. Only a user in neither is deleted;
// one the snapshot held as soft-deleted becomes deleted once the bin no
// longer has it (purged, or deleted from the bin). If the bin cannot be
// read, the pull fails and nothing is swept.
//
// The bin is listed before and after the users round: a user who moves
// between the directory and the bin while the round runs (deleted, or
// restored) is then seen live by the round or in the bin by one listing.
// A user deleted and restored again during one full read is in neither:
// the engine asks Confirm (confirm.go) about every user a completed full
// read did not mention before it sweeps, so such a user stays live.

// binPage is the most users one recycle bin page holds ($top's maximum).
const binPage = 999

// binEntry is a recycle bin entry ($select=id).
type binEntry struct {
	ID string `json:"id"`
}

// pullRecycleBin reports every user in the recycle bin as a soft removal,
// one batch per page.
func (s *Source) pullRecycleBin(ctx context.Context, emit func([]idsync.Change) error) error {
	link := s.cfg.GraphURL + "/directory/deletedItems/microsoft.graph.user?$select=id&$top=" + fmt.Sprint(binPage)
	for page := 1; link != ""; page++ {
		info, err := directory.NewDeletedItemsGraphUserRequestBuilder(link, s.adapter).ToGetRequestInformation(ctx, nil)
		if err != nil {
			return fmt.Errorf("entra: recycle bin: %w", err)
		}
		raw, err := s.adapter.SendPrimitive(ctx, info, "[]byte", errorMapping)
		if err != nil {
			return s.graphError(fmt.Sprintf("recycle bin (deleted users) page %d", page), err)
		}
		body, _ := raw.([]byte)
		p, err := decodePage[binEntry](s.cfg.GraphURL, link, body)
		if err != nil {
			return fmt.Errorf("entra: recycle bin page %d: %w", page, err)
		}
		changes := make([]idsync.Change, 0, len(p.Value))
		for _, u := range p.Value {
			if u.ID != "" {
				changes = append(changes, idsync.UserRemovedChange(u.ID, idsync.RemovalSoft))
			}
		}
		if len(changes) > 0 {
			if err := emit(changes); err != nil {
				return err
			}
		}
		link = p.NextLink
	}
	return nil
}

// inRecycleBin reports whether the user id is in the recycle bin.
func (s *Source) inRecycleBin(ctx context.Context, id string) (bool, error) {
	raw := s.cfg.GraphURL + "/directory/deletedItems/" + url.PathEscape(id) + "?$select=id"
	info, err := directory.NewDeletedItemsDirectoryObjectItemRequestBuilder(raw, s.adapter).ToGetRequestInformation(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("entra: recycle bin: user %s: %w", id, err)
	}
	if _, err := s.adapter.SendPrimitive(ctx, info, "[]byte", errorMapping); err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, s.graphError("recycle bin: user "+id, err)
	}
	return true, nil
}

func notFound(err error) bool {
	var oe *odataerrors.ODataError
	return errors.As(err, &oe) && oe.ResponseStatusCode == http.StatusNotFound
}
