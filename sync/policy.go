// Package sync is idsync's engine: it pulls a source into the snapshot,
// works out what the workspace should hold, diffs that against what was
// applied, holds plans that delete too much, and applies the rest through a
// target via the durable outbox.
//
// The engine knows sources and targets only through their interfaces.
package sync

import (
	"time"

	"github.com/idsync/idsync/sources"
	"github.com/idsync/idsync/targets"
)

// Action is what happens to a workspace account whose user should no longer
// have access.
type Action string

const (
	ActionDisable Action = "disable"
	ActionDelete  Action = "delete"
	ActionIgnore  Action = "ignore" // leave the account as it is
)

// Deprovision maps each way of losing access to an Action.
type Deprovision struct {
	Disabled    Action // disabled / suspended in the IdP
	OutOfScope  Action // left the scope groups / unassigned from the app
	SoftDeleted Action // in Entra's recycle bin
	Deleted     Action // permanently deleted in the IdP
}

// RoleRule gives Role to users in Group (transitively) or holding AppRole.
// Exactly one of Group and AppRole is set.
type RoleRule struct {
	Group   string // group name or id
	AppRole string // app role value
	Role    string
}

// Policy is everything a connection's config says about who gets what.
type Policy struct {
	Scope       sources.Scope
	DefaultRole string
	Rules       []RoleRule // first match wins
	Deprovision Deprovision
	// MaxDeletes and MaxDeletePercent hold a run whose deletes + disables
	// exceed them; 0 means no limit.
	MaxDeletes       int
	MaxDeletePercent float64
	GroupSync        bool
	GroupInclude     []string // group names or ids; empty = the scope groups
	// Unmanaged is what to do with workspace accounts idsync does not
	// manage: UnmanagedReport ("" too) or UnmanagedDisable.
	Unmanaged string
}

// DefaultDeprovision is the deprovision policy of DESIGN.md's defaults.
var DefaultDeprovision = Deprovision{Disabled: ActionDisable, OutOfScope: ActionDisable, SoftDeleted: ActionDisable, Deleted: ActionDelete}

// Connection is one source → target pipeline.
type Connection struct {
	Name       string
	SourceType string // "entra", "okta", "scim": for plans and reasons
	Source     sources.Source
	Target     targets.Target
	Policy     Policy
	// PolicyKey is whatever else in the connection's config shapes the
	// accounts it plans (the target's type, preset and role attribute, as
	// written), never a secret. It goes into the policy fingerprint: a
	// change to it makes the next run evaluate every user.
	PolicyKey string
	// RunTimeout is each run's deadline (config run_timeout); 0 means
	// DefaultRunTimeout.
	RunTimeout time.Duration
	// Scrub, when set, removes from a message the values of the
	// connection's configuration that must never be shown (config's
	// Backend.Scrub): the engine applies it to every error it returns or
	// records (runs, events) and to its log lines, since a backend's error
	// may quote a URL or tenant id that came from the environment.
	Scrub func(string) string
}

// idpName is how plans name the connection's IdP.
func (c *Connection) idpName() string {
	switch c.SourceType {
	case "entra":
		return "Entra"
	case "okta":
		return "Okta"
	case "scim":
		return "the IdP (SCIM push)"
	case "":
		return "the IdP"
	}
	return c.SourceType
}
