package targets

import "github.com/idsync/idsync"

// Updater is implemented by targets that send an existing account only
// part of what changed in the IdP: attributes the workspace does not take,
// or that belong to the person after creation (Whimsical's given and family
// names, "can only be updated by the users themselves"), are never sent in
// an update. The engine plans by it, so a plan shows what will really be
// sent and an update with nothing to send is no op at all.
type Updater interface {
	// Updates returns the profile changes from applied to want that an
	// update would send, as idsync.DiffAttributes lists them (Old and New
	// as the IdP has them); nil when nothing would be sent.
	Updates(applied, want idsync.Account) []idsync.FieldChange
}

// Updates is t's Updates, or every changed attribute for a target without one.
func Updates(t Target, applied, want idsync.Account) []idsync.FieldChange {
	if u, ok := t.(Updater); ok {
		return u.Updates(applied, want)
	}
	return idsync.DiffAttributes(applied, want)
}
