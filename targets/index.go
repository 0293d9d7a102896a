package targets

import (
	"context"
	"strings"

	"github.com/idsync/idsync"
)

// Indexer is implemented by targets that can read the whole workspace once
// so that a run's creates need no lookup each: with an index a create is
// one POST (or one operation of a Bulk request) instead of two lookups and
// a POST.
//
// Contract: the engine calls IndexUsers once at the start of a drain's
// create phase, with the number of creates in it, and passes the result to
// every op of that phase with WithIndex. It does the same for a later
// phase whose ops the target batches (targets.Batcher) and that have a
// recorded account to check, with half their number (a listing saves
// those one read each, a create two). The target may return nil (no
// index, no error) when listing would cost more requests than the lookups
// it saves; the creates then look up as before. An index is a snapshot:
// a miss is trusted only for the POST, which must still fall back to the
// lookup path on 409 (someone created the account since); a hit is still
// checked against the adoption rules (externalId, OwnerOf) before any
// write. After a crash the next drain builds a new index, which sees what
// the interrupted run created, so a resumed create adopts rather than
// duplicates.
type Indexer interface {
	IndexUsers(ctx context.Context, creates int) (*Index, error)
}

// Index is the workspace's accounts by externalId and by userName
// (case-insensitively, as RFC 7643 defines userName).
type Index struct {
	byExt    map[string]idsync.Applied
	byName   map[string]idsync.Applied
	byTarget map[string]idsync.Applied
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byExt: map[string]idsync.Applied{}, byName: map[string]idsync.Applied{}, byTarget: map[string]idsync.Applied{}}
}

// Add records one workspace account (TargetID and Account set).
func (x *Index) Add(a idsync.Applied) {
	if a.Account == nil || a.TargetID == "" {
		return
	}
	x.byTarget[a.TargetID] = a
	if a.Account.ExternalID != "" {
		x.byExt[a.Account.ExternalID] = a
	}
	if a.Account.UserName != "" {
		x.byName[strings.ToLower(a.Account.UserName)] = a
	}
}

// Len is how many accounts the index holds.
func (x *Index) Len() int { return len(x.byTarget) }

// ByTargetID is the account the workspace lists under id: a batched
// change to an account idsync recorded checks with it, instead of a read
// of its own, that the account still carries the user's externalId (see
// OwnerOf).
func (x *Index) ByTargetID(id string) (idsync.Applied, bool) {
	a, ok := x.byTarget[id]
	return a, ok && id != ""
}

// ByExternalID is the account carrying externalId ext.
func (x *Index) ByExternalID(ext string) (idsync.Applied, bool) {
	a, ok := x.byExt[ext]
	return a, ok && ext != ""
}

// ByUserName is the account named name.
func (x *Index) ByUserName(name string) (idsync.Applied, bool) {
	a, ok := x.byName[strings.ToLower(name)]
	return a, ok && name != ""
}

type indexKey struct{}

// WithIndex returns ctx carrying x for the ops of one create phase.
func WithIndex(ctx context.Context, x *Index) context.Context {
	if x == nil {
		return ctx
	}
	return context.WithValue(ctx, indexKey{}, x)
}

// IndexOf is the index ctx carries, or nil.
func IndexOf(ctx context.Context) *Index {
	x, _ := ctx.Value(indexKey{}).(*Index)
	return x
}
