package targets

import (
	"context"

	"github.com/idsync/idsync"
)

// Merger is implemented by targets that can apply several changes to one
// user as one request (SCIM: one PATCH with several operations, or one PUT).
// Ops of one object never run concurrently; merging them also keeps a
// read-modify-write workspace (GET + PUT) from racing with itself and sends
// fewer requests.
//
// The engine calls ApplyMerged with two or more ops, all on the same user
// (one ObjectID), all of a kind Mergeable accepts, in plan order. Their
// TargetIDs are the same. Later ops win where they touch the same attribute.
//
// ApplyMerged is all or nothing: on success every op is applied and the
// returned Applied holds for each of them; on error none of them is (a SCIM
// PATCH or PUT is atomic, RFC 7644 §3.5.2). Errors are classified as for
// Target.Apply. After a permanent error the engine applies the ops one at
// a time with Apply, so the failure is recorded against the op that causes
// it and the others still land (a role the workspace refuses must not block
// a profile update). Like Apply, it must be idempotent.
type Merger interface {
	ApplyMerged(ctx context.Context, ops []idsync.Op) (idsync.Applied, error)
}

// Mergeable reports whether ops of kind k may be passed to ApplyMerged: the
// changes to an existing account (profile, role, activity). Creates,
// deletes and group ops are applied alone.
func Mergeable(k idsync.OpKind) bool {
	switch k {
	case idsync.OpUpdate, idsync.OpSetRole, idsync.OpEnable, idsync.OpDisable:
		return true
	}
	return false
}
