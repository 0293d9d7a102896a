package okta

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/idsync/idsync/sources"
)

// cursorVersion 2 added Refs, Read and AppGroups; a version 1 cursor
// (every group's members read) asks for one full read.
const cursorVersion = 2

// cursor is what a pull leaves for the next one. The engine stores it as an
// opaque string.
type cursor struct {
	V    int    `json:"v"`
	App  string `json:"app,omitempty"`  // scope.app_id the cursor was made for
	Role string `json:"role,omitempty"` // role_attribute it was made with
	// Users and Groups are Okta's clock (Date header) when the last read of
	// each started; the next read asks for lastUpdated >= this minus Lag.
	Users  time.Time `json:"users"`
	Groups time.Time `json:"groups"`
	// Log is the System Log polling next link; LogSince is where to start
	// when there is none yet (just after a full read).
	Log      string    `json:"log,omitempty"`
	LogSince time.Time `json:"log_since,omitzero"`
	Full     time.Time `json:"full"` // start of the last full read
	// Gone holds users the log reported deleted in the last 2×Lag: search,
	// being eventually consistent, may still list them.
	Gone map[string]time.Time `json:"gone,omitempty"`
	// Members holds the lastMembershipUpdated of groups whose members were
	// read within the overlap window, so the overlap does not re-read them.
	Members map[string]time.Time `json:"members,omitempty"`
	// Refs is the member-read selection (Source.memberRefs) Read was made
	// for; Read the groups whose members the snapshot holds current; and
	// AppGroups the groups assigned to the scoped app at its last read
	// (members.go).
	Refs      []string `json:"refs,omitempty"`
	Read      []string `json:"read,omitempty"`
	AppGroups []string `json:"app_groups,omitempty"`
}

// logRetention is how long Okta keeps System Log events; a cursor older
// than this has missed deletes and needs a full read.
const logRetention = 90 * 24 * time.Hour

func decodeCursor(s string) (*cursor, error) {
	var c cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("okta: unreadable cursor: %w", sources.ErrCursorExpired)
	}
	if c.V != cursorVersion {
		return nil, fmt.Errorf("okta: cursor version %d: %w", c.V, sources.ErrCursorExpired)
	}
	if c.Users.IsZero() || c.Groups.IsZero() {
		return nil, fmt.Errorf("okta: incomplete cursor: %w", sources.ErrCursorExpired)
	}
	return &c, nil
}

func (c *cursor) encode() (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", errors.New("okta: encode cursor: " + err.Error())
	}
	return string(b), nil
}

// prune drops bookkeeping the overlap window no longer needs.
func (c *cursor) prune(lag time.Duration) {
	for id, t := range c.Gone {
		if t.Before(c.Users.Add(-2 * lag)) {
			delete(c.Gone, id)
		}
	}
	for id, t := range c.Members {
		if t.Before(c.Groups.Add(-lag)) {
			delete(c.Members, id)
		}
	}
}
