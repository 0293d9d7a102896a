package targets

import "errors"

// ErrIdentityConflict marks an op that would take over a workspace object
// belonging to another IdP object: an account found by userName (a group by
// displayName) that carries another externalId. It is a permanent failure
// of that op alone; a person must rename or remove one of the two in the
// workspace. Targets wrap it in an error naming both identities.
var ErrIdentityConflict = errors.New("workspace object belongs to another IdP object")
