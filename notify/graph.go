package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// maxValidationToken bounds the validationToken echoed back.
const maxValidationToken = 4096

// maxNotes bounds the notifications of one Graph delivery that are looked
// at (Graph batches a handful; a forged body of thousands changes nothing).
const maxNotes = 1000

// graphNote is one changeNotification (or lifecycle notification) of a
// changeNotificationCollection: the fields idsync reads.
type graphNote struct {
	SubscriptionID string `json:"subscriptionId"`
	ClientState    string `json:"clientState"`
	ChangeType     string `json:"changeType"`
	Resource       string `json:"resource"`
	LifecycleEvent string `json:"lifecycleEvent"`
}

// serveGraph serves a connection's notificationUrl (kind "graph") or
// lifecycleNotificationUrl (kind "lifecycle"): the validation handshake,
// and deliveries answered 202 at once and queued.
func (s *Service) serveGraph(w http.ResponseWriter, r *http.Request, kind string) {
	name := r.PathValue("conn")
	cs := s.lookup(name)
	if cs == nil || cs.Graph == nil {
		http.NotFound(w, r)
		return
	}
	c := s.counter(name)
	if q := r.URL.Query(); q.Has("validationToken") {
		// Graph's handshake: echo the token, decoded, as text/plain with
		// 200 within 10 seconds. nosniff: it is the caller's text.
		tok := q.Get("validationToken")
		if tok == "" || len(tok) > maxValidationToken {
			http.Error(w, "bad validationToken", http.StatusBadRequest)
			return
		}
		c.validations.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, tok)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST change notifications here", http.StatusMethodNotAllowed)
		return
	}
	c.received.Add(1)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		c.rejected.Add(1)
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	s.enqueue(c, delivery{conn: name, kind: kind, body: body, at: time.Now()})
	w.WriteHeader(http.StatusAccepted)
}

// processGraph checks a delivery's notifications (clientState against the
// subscription's, in constant time) and triggers one pull for all of them;
// lifecycle events go to the subscription upkeep.
func (s *Service) processGraph(d delivery) {
	c := s.counter(d.conn)
	var coll struct {
		Value []graphNote `json:"value"`
	}
	if err := json.Unmarshal(d.body, &coll); err != nil || len(coll.Value) == 0 {
		c.rejected.Add(1)
		return
	}
	if len(coll.Value) > maxNotes {
		c.rejected.Add(int64(len(coll.Value) - maxNotes))
		coll.Value = coll.Value[:maxNotes]
	}
	changed := false
	seen := map[[2]string]bool{} // lifecycle events of this delivery: each handled once
	for _, n := range coll.Value {
		if n.SubscriptionID == "" || !s.checkGraph(d.conn, n.SubscriptionID, n.ClientState) {
			c.rejected.Add(1)
			continue
		}
		c.accepted.Add(1)
		if n.LifecycleEvent != "" {
			c.lifecycle.Add(1)
			if k := [2]string{n.SubscriptionID, n.LifecycleEvent}; !seen[k] {
				seen[k] = true
				s.lifecycle(d.conn, n.SubscriptionID, n.LifecycleEvent)
			}
			continue
		}
		changed = true
	}
	if changed {
		s.trigger(d.conn, "graph change notification")
	}
}
