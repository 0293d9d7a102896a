package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/idsync/idsync"
)

// Event types, one per op kind.
var eventTypes = map[idsync.OpKind]string{
	idsync.OpCreate:       "user.created",
	idsync.OpUpdate:       "user.updated",
	idsync.OpSetRole:      "user.role_changed",
	idsync.OpDisable:      "user.disabled",
	idsync.OpEnable:       "user.enabled",
	idsync.OpDelete:       "user.deleted",
	idsync.OpGroupCreate:  "group.created",
	idsync.OpGroupUpdate:  "group.updated",
	idsync.OpGroupDelete:  "group.deleted",
	idsync.OpMemberAdd:    "group.member_added",
	idsync.OpMemberRemove: "group.member_removed",
}

// Event is the JSON body of one delivery.
type Event struct {
	// ID is the same for every delivery of one op (retries, restarts):
	// receivers drop repeats by it.
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Occurred   time.Time `json:"occurred"`
	Connection string    `json:"connection"`
	// ObjectID is the IdP id of the user or group.
	ObjectID string `json:"objectId"`
	Reason   string `json:"reason,omitempty"`

	User     *idsync.Account      `json:"user,omitempty"`     // the user after the op
	Previous *idsync.Account      `json:"previous,omitempty"` // the user as last delivered
	Changes  []idsync.FieldChange `json:"changes,omitempty"`  // user.updated

	Group         *idsync.GroupAccount `json:"group,omitempty"`
	PreviousGroup *idsync.GroupAccount `json:"previousGroup,omitempty"`
	Members       []string             `json:"members,omitempty"` // externalIds added or removed
}

// newEvent builds the event for op. The group's member list is left out of
// member events (Members says who changed), so a 10,000-member group does
// not resend every member each time.
func newEvent(op idsync.Op, now time.Time) Event {
	e := Event{
		ID:            eventID(op),
		Type:          eventTypes[op.Kind],
		Occurred:      now.UTC().Truncate(time.Millisecond),
		Connection:    op.Connection,
		ObjectID:      op.ObjectID,
		Reason:        op.Reason,
		User:          op.Account,
		Previous:      op.Prev,
		Changes:       op.Changes,
		Group:         op.Group,
		PreviousGroup: op.PrevGroup,
	}
	if op.Kind == idsync.OpMemberAdd || op.Kind == idsync.OpMemberRemove {
		for _, m := range op.Members {
			e.Members = append(e.Members, m.ExternalID)
		}
		if e.Group != nil {
			g := *e.Group
			g.Members = nil
			e.Group = &g
		}
	}
	return e
}

// eventID is op.ID, which the engine keeps for the op's life. An op without
// one (built outside the engine) gets a digest of its content, stable over
// retries of that op.
func eventID(op idsync.Op) string {
	if op.ID != "" {
		return op.ID
	}
	b, _ := json.Marshal(op)
	sum := sha256.Sum256(b)
	return "sha256-" + hex.EncodeToString(sum[:12])
}
