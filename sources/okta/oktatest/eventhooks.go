package oktatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Event hooks, as Okta documents them: POST /api/v1/eventHooks registers a
// hook (ACTIVE, UNVERIFIED) for a list of event types;
// POST .../{id}/lifecycle/verify makes the one-time verification call (a
// GET with X-Okta-Verification-Challenge and the hook's auth header, whose
// answer must be {"verification": <challenge>}); .../lifecycle/deactivate
// and DELETE remove it. Every System Log event of a subscribed type is then
// delivered (POST, the hook's auth header, body {"data": {"events": [...]}})
// to each active, verified hook after the hook delay; events within that
// time go in one delivery.

// EventHook is a registered hook as the emulator holds it.
type EventHook struct {
	ID, Name, URI, AuthKey, AuthValue string
	Events                            []string
	Status, VerificationStatus        string
}

// hookEligible are the event types the emulator accepts in a hook (the
// ones idsync uses and a few more from Okta's catalog).
var hookEligible = map[string]bool{
	"user.lifecycle.create": true, "user.lifecycle.activate": true, "user.lifecycle.deactivate": true,
	"user.lifecycle.suspend": true, "user.lifecycle.unsuspend": true, "user.lifecycle.reactivate": true,
	"user.lifecycle.delete.initiated": true, "user.account.update_profile": true,
	"group.user_membership.add": true, "group.user_membership.remove": true,
	"application.user_membership.add": true, "application.user_membership.remove": true,
	"group.application_assignment.add": true, "group.application_assignment.remove": true,
	"group.lifecycle.create": true, "group.lifecycle.delete": true, "group.profile.update": true,
}

type hookState struct {
	hooks     map[string]*EventHook
	pending   map[string][]*event // by hook id
	wake      chan struct{}
	done      chan struct{}
	started   bool
	delay     time.Duration
	client    *http.Client
	delivered int
	failed    int
}

func (s *Server) hooksInit() {
	s.hk = hookState{hooks: map[string]*EventHook{}, pending: map[string][]*event{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.st.onEvent = s.hookEvent
}

// SetHookDelay sets how long after an event its delivery is sent.
func (s *Server) SetHookDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hk.delay = d
}

// SetHookClient sets the client hooks are called with (default: 10 s
// timeout; plain http on loopback works).
func (s *Server) SetHookClient(c *http.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hk.client = c
}

// EventHooks lists the registered hooks, by id.
func (s *Server) EventHooks() []EventHook {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []EventHook
	for _, h := range s.hk.hooks {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b EventHook) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// HookDeliveries reports deliveries answered 2xx, and the others.
func (s *Server) HookDeliveries() (ok, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hk.delivered, s.hk.failed
}

// hookEvent queues e for the hooks subscribed to its type (s.mu held).
func (s *Server) hookEvent(e *event) {
	queued := false
	for _, h := range s.hk.hooks {
		if h.Status == "ACTIVE" && h.VerificationStatus == "VERIFIED" && slices.Contains(h.Events, e.Type) {
			s.hk.pending[h.ID] = append(s.hk.pending[h.ID], e)
			queued = true
		}
	}
	if !queued {
		return
	}
	if !s.hk.started {
		s.hk.started = true
		go s.hookLoop()
	}
	select {
	case s.hk.wake <- struct{}{}:
	default:
	}
}

func (s *Server) hookClient() *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hk.client != nil {
		return s.hk.client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (s *Server) hookLoop() {
	for {
		select {
		case <-s.hk.done:
			return
		case <-s.hk.wake:
		}
		s.mu.Lock()
		delay := s.hk.delay
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-s.hk.done:
				return
			case <-time.After(delay):
			}
		}
		type send struct {
			hook EventHook
			body []byte
		}
		var sends []send
		s.mu.Lock()
		for id, evs := range s.hk.pending {
			h, ok := s.hk.hooks[id]
			if !ok {
				continue
			}
			var items []any
			for _, e := range evs {
				items = append(items, s.eventJSON(e))
			}
			body, _ := json.Marshal(map[string]any{
				"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
				"source": s.URL + "/api/v1/eventHooks/" + id, "eventId": newUUID(),
				"eventTime": s.now().Format("2006-01-02T15:04:05.000Z"), "contentType": "application/json",
				"data": map[string]any{"events": items},
			})
			sends = append(sends, send{hook: *h, body: body})
		}
		s.hk.pending = map[string][]*event{}
		s.mu.Unlock()
		for _, x := range sends {
			err := s.callHook(x.hook, x.body)
			s.mu.Lock()
			if err != nil {
				s.hk.failed++
			} else {
				s.hk.delivered++
			}
			s.mu.Unlock()
		}
	}
}

func (s *Server) eventJSON(e *event) map[string]any {
	var targets []any
	for _, t := range e.Targets {
		targets = append(targets, map[string]any{"id": t.ID, "type": t.Type, "alternateId": t.AlternateID, "displayName": t.DisplayName})
	}
	return map[string]any{
		"uuid": e.UUID, "published": e.Published.Format("2006-01-02T15:04:05.000Z"), "eventType": e.Type, "version": "0",
		"displayMessage": e.Message, "severity": "INFO", "outcome": map[string]any{"result": "SUCCESS"}, "target": targets,
	}
}

func (s *Server) callHook(h EventHook, body []byte) error {
	req, _ := http.NewRequest(http.MethodPost, h.URI, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if h.AuthKey != "" {
		req.Header.Set(h.AuthKey, h.AuthValue)
	}
	resp, err := s.hookClient().Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("hook answered %s", resp.Status)
	}
	return nil
}

// verifyHook makes the one-time verification call.
func (s *Server) verifyHook(h EventHook) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URI, nil)
	challenge := newID("chl")
	req.Header.Set("X-Okta-Verification-Challenge", challenge)
	if h.AuthKey != "" {
		req.Header.Set(h.AuthKey, h.AuthValue)
	}
	resp, err := s.hookClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var got struct {
		Verification string `json:"verification"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&got); err != nil || got.Verification != challenge {
		return fmt.Errorf("did not answer the verification challenge")
	}
	return nil
}

type hookDoc struct {
	ID                 string `json:"id,omitempty"`
	Name               string `json:"name"`
	Status             string `json:"status,omitempty"`
	VerificationStatus string `json:"verificationStatus,omitempty"`
	Events             struct {
		Type  string   `json:"type"`
		Items []string `json:"items"`
	} `json:"events"`
	Channel struct {
		Type    string `json:"type"`
		Version string `json:"version"`
		Config  struct {
			URI        string `json:"uri"`
			AuthScheme *struct {
				Type  string `json:"type"`
				Key   string `json:"key"`
				Value string `json:"value,omitempty"`
			} `json:"authScheme,omitempty"`
		} `json:"config"`
	} `json:"channel"`
}

func hookJSON(h *EventHook) hookDoc {
	var d hookDoc
	d.ID, d.Name, d.Status, d.VerificationStatus = h.ID, h.Name, h.Status, h.VerificationStatus
	d.Events.Type, d.Events.Items = "EVENT_TYPE", h.Events
	d.Channel.Type, d.Channel.Version, d.Channel.Config.URI = "HTTP", "1.0.0", h.URI
	return d // the auth value is never read back
}

// eventHooks serves /api/v1/eventHooks... (s.mu held; released around the
// verification call).
func (s *Server) eventHooks(w http.ResponseWriter, r *http.Request, parts []string) {
	switch {
	case len(parts) == 1 && r.Method == http.MethodPost:
		var d hookDoc
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&d); err != nil || d.Name == "" || d.Channel.Config.URI == "" {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: eventHook")
			return
		}
		if d.Events.Type != "EVENT_TYPE" || len(d.Events.Items) == 0 {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: events")
			return
		}
		for _, t := range d.Events.Items {
			if !hookEligible[t] {
				writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: events: "+t+" is not eligible for event hooks")
				return
			}
		}
		h := &EventHook{ID: newID("who"), Name: d.Name, URI: d.Channel.Config.URI, Events: d.Events.Items,
			Status: "ACTIVE", VerificationStatus: "UNVERIFIED"}
		if a := d.Channel.Config.AuthScheme; a != nil {
			h.AuthKey, h.AuthValue = a.Key, a.Value
		}
		s.hk.hooks[h.ID] = h
		writeJSON(w, hookJSON(h))
	case len(parts) == 1 && r.Method == http.MethodGet:
		var out []any
		for _, h := range s.hk.hooks {
			out = append(out, hookJSON(h))
		}
		writeJSON(w, out)
	case len(parts) >= 2:
		h, ok := s.hk.hooks[parts[1]]
		if !ok {
			notFound(w)
			return
		}
		switch {
		case len(parts) == 2 && r.Method == http.MethodGet:
			writeJSON(w, hookJSON(h))
		case len(parts) == 2 && r.Method == http.MethodDelete:
			if h.Status != "INACTIVE" {
				writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: an active event hook cannot be deleted; deactivate it first")
				return
			}
			delete(s.hk.hooks, h.ID)
			w.WriteHeader(http.StatusNoContent)
		case len(parts) == 4 && parts[2] == "lifecycle" && r.Method == http.MethodPost:
			switch parts[3] {
			case "activate":
				h.Status = "ACTIVE"
			case "deactivate":
				h.Status = "INACTIVE"
			case "verify":
				copyH := *h
				s.mu.Unlock()
				err := s.verifyHook(copyH)
				s.mu.Lock()
				if err != nil {
					writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: eventHook verification failed ("+err.Error()+")")
					return
				}
				if h, ok = s.hk.hooks[copyH.ID]; !ok {
					notFound(w)
					return
				}
				h.VerificationStatus = "VERIFIED"
			default:
				notFound(w)
				return
			}
			writeJSON(w, hookJSON(h))
		default:
			writeError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
		}
	default:
		writeError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
	}
}
