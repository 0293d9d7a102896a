package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/targets"
)

// policyFingerprint is a digest of everything that decides what c's
// workspace should hold: scope, roles, deprovision, groups, PolicyKey and
// the target's traits (left out when it has none, so the fingerprints of
// plain targets are what they were before traits existed).
// Safety limits and schedules are left out: they decide whether and when a
// plan is applied, not what it is.
func (c *Connection) policyFingerprint() string {
	p := c.Policy
	// Empty and nil lists are the same policy.
	orNil := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	var rules []RoleRule
	if len(p.Rules) > 0 {
		rules = p.Rules
	}
	var traits *targets.Traits
	if t := targets.TraitsOf(c.Target); t != (targets.Traits{}) {
		traits = &t
	}
	b, _ := json.Marshal(struct { // strings, bools and lists of them: cannot fail
		ScopeGroups  []string
		ScopeApp     string
		DefaultRole  string
		Rules        []RoleRule
		Deprovision  Deprovision
		GroupSync    bool
		GroupInclude []string
		Key          string
		Traits       *targets.Traits `json:",omitempty"`
	}{orNil(p.Scope.Groups), p.Scope.AppID, p.DefaultRole, rules, p.Deprovision, p.GroupSync, orNil(p.GroupInclude), c.PolicyKey, traits})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// policyChanged compares c's policy with the one its last enqueued plan was
// made with (recorded says there was one). A connection with none recorded
// (a first run, or a database from before fingerprints) counts as changed:
// everyone is evaluated once, which a first run does anyway and which,
// after an upgrade, catches config changes the old engine never applied.
func (c *Connection) policyChanged(tx *state.Tx) (fp string, changed, recorded bool, err error) {
	fp = c.policyFingerprint()
	stored, err := tx.PolicyFingerprint(c.Name)
	if err != nil {
		return "", false, false, err
	}
	return fp, stored != fp, stored != "", nil
}
