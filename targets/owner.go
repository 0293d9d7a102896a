package targets

import "context"

// Kind says whether a workspace object is an account or a group: their ids
// are separate spaces.
type Kind string

const (
	User  Kind = "user"
	Group Kind = "group"
)

// OwnerFunc returns the IdP id of the user or group that idsync's applied
// state records workspace object targetID for, or "" when it records it
// for none.
type OwnerFunc func(ctx context.Context, kind Kind, targetID string) (objectID string, err error)

type ownerKey struct{}

// WithOwner returns ctx carrying f for the duration of one op.
//
// A target that finds a workspace object by name or externalId (to adopt
// it, or because it has no recorded id) must ask OwnerOf before writing to
// it: the workspace may not keep externalId, so only idsync's own record
// tells that the account already belongs to another person. The engine
// puts f in the context of every op it applies, reading the applied state
// at that moment. The state's unique target ids still catch a target that
// does not ask, but only after its write: asking is what keeps the write
// from happening.
func WithOwner(ctx context.Context, f OwnerFunc) context.Context {
	return context.WithValue(ctx, ownerKey{}, f)
}

// OwnerOf is the IdP id the applied state records targetID for, "" when
// none or when ctx carries no OwnerFunc (a target used outside the engine
// then relies on externalId alone).
func OwnerOf(ctx context.Context, kind Kind, targetID string) (string, error) {
	f, _ := ctx.Value(ownerKey{}).(OwnerFunc)
	if f == nil || targetID == "" {
		return "", nil
	}
	return f(ctx, kind, targetID)
}
