package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// EventTypes are the Okta event types idsync's hook subscribes to: user
// lifecycle, profile updates, group membership and app assignment — what
// changes a workspace account. Each is marked event-hook eligible in Okta's
// event types catalog; Okta refuses a hook naming one that is not.
var EventTypes = []string{
	"user.lifecycle.create",
	"user.lifecycle.activate",
	"user.lifecycle.deactivate",
	"user.lifecycle.suspend",
	"user.lifecycle.unsuspend",
	"user.lifecycle.reactivate",
	"user.lifecycle.delete.initiated",
	"user.account.update_profile",
	"group.user_membership.add",
	"group.user_membership.remove",
	"application.user_membership.add",
	"application.user_membership.remove",
	"group.application_assignment.add",
	"group.application_assignment.remove",
}

var eventType = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range EventTypes {
		m[t] = true
	}
	return m
}()

// serveOkta serves a connection's event hook: the one-time verification
// (GET with X-Okta-Verification-Challenge, answered {"verification": ...})
// and deliveries (POST, answered 204 at once and queued). Both must carry
// the hook's secret in the Authorization header (checked in constant time
// against the SHA-256 the state holds).
func (s *Service) serveOkta(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("conn")
	cs := s.lookup(name)
	if cs == nil || !cs.Okta {
		http.NotFound(w, r)
		return
	}
	c := s.counter(name)
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "GET (verification) or POST (events)", http.StatusMethodNotAllowed)
		return
	}
	if r.Method == http.MethodPost {
		c.received.Add(1)
	}
	if !s.checkOkta(name, r.Header.Get("Authorization")) {
		c.rejected.Add(1)
		http.Error(w, "wrong or missing Authorization", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodGet {
		ch := r.Header.Get("X-Okta-Verification-Challenge")
		if ch == "" || len(ch) > maxValidationToken {
			http.Error(w, "no X-Okta-Verification-Challenge", http.StatusBadRequest)
			return
		}
		c.validations.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"verification": ch})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		c.rejected.Add(1)
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	c.accepted.Add(1)
	s.enqueue(c, delivery{conn: name, kind: KindOkta, body: body, at: time.Now()})
	w.WriteHeader(http.StatusNoContent)
}

// processOkta triggers a pull when a delivery holds an event idsync cares
// about, and records the delivery lag Okta's timestamps show.
func (s *Service) processOkta(d delivery) {
	c := s.counter(d.conn)
	var hook struct {
		Data struct {
			Events []struct {
				EventType string    `json:"eventType"`
				Published time.Time `json:"published"`
			} `json:"events"`
		} `json:"data"`
	}
	if err := json.Unmarshal(d.body, &hook); err != nil {
		s.Log.Debug("notify: unreadable Okta event hook delivery", "connection", d.conn)
		return
	}
	relevant := false
	for i, e := range hook.Data.Events {
		if i >= maxNotes {
			break
		}
		if eventType[e.EventType] || strings.HasPrefix(e.EventType, "user.lifecycle.") {
			relevant = true
			if !e.Published.IsZero() {
				c.lag.Store(int64(d.at.Sub(e.Published)))
			}
		}
	}
	if relevant {
		s.trigger(d.conn, "okta event hook")
	}
}
