package sources

import (
	"context"

	"github.com/idsync/idsync"
)

// Confirmer is implemented by a source that can look users up one by one.
// The engine calls it after a completed full read, before the sweep, with
// the users the snapshot holds (not as deleted) that the read did not
// mention: absence from a listing is not proof of a delete when a user can
// leave and come back while the listing runs (Entra: deleted and restored
// from the recycle bin during one full read, in neither recycle bin listing
// and not in the users round).
//
// Confirm reports, for every one of ids and nothing else, what the IdP says
// of it now, in pages to emit (ownership as in Source.Pull):
//   - live (disabled ones included): ChangeUser with the whole user;
//   - restorable (a recycle bin): ChangeUserRemoved with RemovalSoft;
//   - gone from both: ChangeUserRemoved with RemovalHard, only on the IdP's
//     word that the user is not there.
//
// Any doubt (a request that fails, an answer it cannot read) is an error:
// the engine then fails the pull, sweeps nothing and keeps the old cursor.
// The engine checks that every id was reported exactly once.
//
// A source without it keeps "not mentioned by a completed full read" as its
// proof of a permanent delete (Source.Pull). The Okta source is one: its
// full read is a user search, which lists deactivated (DEPROVISIONED) users
// too, Okta deletes only a user deactivated first, and a deleted Okta user
// cannot come back; a user in none of its pages is deleted for good.
type Confirmer interface {
	Confirm(ctx context.Context, ids []string, emit func(page []idsync.Change) error) error
}
