package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources"
)

// cursor is what Pull hands the engine to keep: the deltaLinks of the
// users and groups rounds. Opaque to everyone else.
type cursor struct {
	V      int    `json:"v"`
	Users  string `json:"users"`
	Groups string `json:"groups"`
}

const cursorVersion = 1

// Pull reads users, then groups (with their direct members), then, with
// scope.app_id, the app's role assignments, emitting one batch of changes
// per Graph page. cursor "" is a full read (full=true), which also reports
// the users in the recycle bin, as soft removals, before and after the
// users round (recyclebin.go).
//
// Users come first so members and assignments name users already seen.
// Directory delta tokens expire after 7 days: a cursor older than that
// answers ErrCursorExpired and the engine does a full read.
func (s *Source) Pull(ctx context.Context, cur string, emit func([]idsync.Change) error) (string, bool, error) {
	var c cursor
	full := cur == ""
	if !full {
		if err := json.Unmarshal([]byte(cur), &c); err != nil || c.V != cursorVersion || c.Users == "" || c.Groups == "" {
			return "", false, fmt.Errorf("entra: cursor unreadable: %w", sources.ErrCursorExpired)
		}
		// A cursor from another graph_url (the config moved clouds or
		// emulators) must not be followed: start over.
		if !strings.HasPrefix(c.Users, s.cfg.GraphURL+"/") || !strings.HasPrefix(c.Groups, s.cfg.GraphURL+"/") {
			return "", false, fmt.Errorf("entra: cursor is for another graph_url: %w", sources.ErrCursorExpired)
		}
	}
	next := cursor{V: cursorVersion}
	var err error
	// A full read reports the recycle bin too (see recyclebin.go).
	if full {
		if err := s.pullRecycleBin(ctx, emit); err != nil {
			return "", false, err
		}
	}
	if next.Users, err = s.pullUsers(ctx, c.Users, emit); err != nil {
		return "", false, err
	}
	if full {
		if err := s.pullRecycleBin(ctx, emit); err != nil {
			return "", false, err
		}
	}
	if next.Groups, err = s.pullGroups(ctx, c.Groups, emit); err != nil {
		return "", false, err
	}
	if s.cfg.Scope.AppID != "" {
		if err := s.pullAssignments(ctx, emit); err != nil {
			return "", false, err
		}
	}
	b, _ := json.Marshal(next)
	return string(b), full, nil
}
