package idsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// ID is a short digest of what the plan would take away: its user disables
// and deletes and its group deletes, in order, each by kind, object and
// workspace ids and the account, changes, group and members it sends. An
// approval is about exactly that: approving re-plans and applies the
// other ops (creates, updates, role and member changes) anyway, whatever
// they have become. So a held plan keeps its id while new hires and
// profile changes come and go between scheduled runs, and the id changes
// exactly when what would be taken away does. Run ids, times, op ids and
// reasons are left out too.
func (p Plan) ID() string {
	// The digest's input is fixed here, not Op's JSON, so a field added to
	// Op later does not change the ids of plans that do not use it.
	type content struct {
		Kind     OpKind        `json:"k"`
		ObjectID string        `json:"o"`
		TargetID string        `json:"t,omitempty"`
		Account  *Account      `json:"a,omitempty"`
		Changes  []FieldChange `json:"c,omitempty"`
		Group    *GroupAccount `json:"g,omitempty"`
		Members  []Member      `json:"m,omitempty"`
		Round    int           `json:"r,omitempty"`
	}
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, o := range p.Ops {
		if !o.Kind.TakesAway() {
			continue
		}
		// Encoding these types cannot fail (no maps with odd keys, no funcs).
		_ = enc.Encode(content{o.Kind, o.ObjectID, o.TargetID, o.Account, o.Changes, o.Group, o.Members, o.Round})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
