package targets

import (
	"context"

	"github.com/idsync/idsync"
)

// Observer is implemented by listers that know which of an account's
// attributes the workspace keeps as idsync sets them, so a listing can be
// compared with what idsync last applied (drift reconcile).
type Observer interface {
	// Observed returns applied (the account as idsync last applied it)
	// corrected by listed (the same account as the workspace lists it) in
	// what the workspace is expected to keep: a value that differs there
	// was changed by hand. Attributes the workspace does not take, or that
	// belong to the person after creation, keep their applied value.
	Observed(applied, listed idsync.Account) idsync.Account
}

// Observe is t's Observed, or, for a target without one, applied with the
// listed activity: all a plain listing can be trusted with.
func Observe(t Target, applied, listed idsync.Account) idsync.Account {
	if o, ok := t.(Observer); ok {
		return o.Observed(applied, listed)
	}
	applied.Active = listed.Active
	return applied
}

// GroupLister is implemented by targets that can read the workspace's
// groups with their members, so drift reconcile can compare the groups
// idsync pushes with what the workspace holds.
type GroupLister interface {
	// ListGroups emits every group in the workspace, a page at a time.
	ListGroups(ctx context.Context, emit func([]ListedGroup) error) error
}

// ListedGroup is one workspace group as a listing shows it.
type ListedGroup struct {
	TargetID    string
	ExternalID  string
	DisplayName string
	Description string
	// Members are the workspace ids of the member accounts.
	Members []string
}
