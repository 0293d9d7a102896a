package idsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// ID is a short digest of what the plan would send, in order: each op's
// kind, object and workspace ids, and the account, changes, group, members
// and member round it carries. Run ids, times, op ids and reasons are left
// out, so the same directory and policy give the same id on every run: a
// person approves an id, and the id changes exactly when what would be sent
// does.
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
		// Encoding these types cannot fail (no maps with odd keys, no funcs).
		_ = enc.Encode(content{o.Kind, o.ObjectID, o.TargetID, o.Account, o.Changes, o.Group, o.Members, o.Round})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
