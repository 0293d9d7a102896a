package targets

// Traits are what a workspace's vendor documents about how it wants to be
// provisioned, beyond what a single op carries. The engine plans by them;
// the zero value is plain SCIM.
type Traits struct {
	// OrderedMembers: the order in which a user joins groups means
	// something (OfficeRnD: "The first synced Azure group will be their
	// Primary team"). The engine applies a user's new memberships one at a
	// time, in a stable order, and the state records the order they were
	// first applied in.
	OrderedMembers bool
	// GroupDescriptions: groups carry the IdP group's description.
	GroupDescriptions bool
	// AssignedRoleRequired: with an Entra app scope, an assignment with the
	// Default Access role does not put a user in scope (Microsoft's
	// Whimsical tutorial: "Users with the Default Access role are excluded
	// from provisioning").
	AssignedRoleRequired bool
}

// Describer is implemented by targets whose workspace has Traits.
type Describer interface {
	Traits() Traits
}

// TraitsOf returns t's traits, the zero value when it has none.
func TraitsOf(t Target) Traits {
	if d, ok := t.(Describer); ok {
		return d.Traits()
	}
	return Traits{}
}
