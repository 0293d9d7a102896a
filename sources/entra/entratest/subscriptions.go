package entratest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Change notifications, as Graph documents them for users and groups:
// POST /subscriptions validates notificationUrl and lifecycleNotificationUrl
// (a POST with ?validationToken= that must be echoed as text/plain with 200
// within 10 s) before it answers 201; PATCH renews, GET reads, DELETE
// deletes. Every directory change then sends a changeNotificationCollection
// to the subscriptions on its resource after NotifyDelay (changes within
// that time go in one delivery, like Graph batches them); lifecycle
// notifications are sent with SendLifecycle.

// MaxSubscriptionLifetime is Graph's limit for users and groups.
const MaxSubscriptionLifetime = 41760 * time.Minute

// Subscription is a subscription as the emulator holds it.
type Subscription struct {
	ID, Resource, ChangeType, NotificationURL, LifecycleURL, ClientState string
	Expires                                                              time.Time
}

type pendingNote struct {
	sub                  string
	changeType, resource string
	id                   string
	lifecycle            string
}

// notifier is the subscription state of a Server (kept apart from the
// directory's fields).
type notifier struct {
	subs    map[string]*Subscription
	pending []pendingNote
	wake    chan struct{}
	done    chan struct{}
	started bool
	// delivered counts deliveries answered 2xx, failed the others.
	delivered, failed int
}

// SetNotifyDelay sets how long after a change its notification is sent
// (default 0; Graph takes from seconds to a few minutes).
func (s *Server) SetNotifyDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyDelay = d
}

// SetNotifyClient sets the HTTP client the emulator calls subscribers with
// (default: 10 s timeout, system roots; plain http on loopback works).
func (s *Server) SetNotifyClient(c *http.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyClient = c
}

// Subscriptions lists the subscriptions the emulator has, by id.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Subscription
	for _, sub := range s.nt.subs {
		out = append(out, *sub)
	}
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Deliveries reports how many notification deliveries subscribers answered
// with 2xx, and how many they did not (or could not be reached).
func (s *Server) Deliveries() (ok, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nt.delivered, s.nt.failed
}

// SendLifecycle sends the lifecycle notification event
// ("reauthorizationRequired", "subscriptionRemoved", "missed") for
// subscription id to its lifecycleNotificationUrl. subscriptionRemoved
// also removes the subscription, as Graph has by then.
func (s *Server) SendLifecycle(id, event string) error {
	s.mu.Lock()
	sub, ok := s.nt.subs[id]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("entratest: no subscription %s", id)
	}
	copySub := *sub
	if event == "subscriptionRemoved" {
		delete(s.nt.subs, id)
	}
	s.mu.Unlock()
	body := lifecycleBody(&copySub, s.TenantID, event)
	return s.post(copySub.LifecycleURL, body)
}

// RemoveSubscription drops subscription id without telling anyone (a
// subscription Graph lost): the owner must notice it on its own.
func (s *Server) RemoveSubscription(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nt.subs, id)
}

func lifecycleBody(sub *Subscription, tenant, event string) []byte {
	b, _ := json.Marshal(map[string]any{"value": []any{map[string]any{
		"subscriptionId":                 sub.ID,
		"subscriptionExpirationDateTime": sub.Expires.UTC().Format(time.RFC3339Nano),
		"tenantId":                       tenant,
		"clientState":                    sub.ClientState,
		"lifecycleEvent":                 event,
	}}})
	return b
}

// changedLocked queues notifications for a change of resource object id
// (s.mu held).
func (s *Server) changedLocked(resource, id, changeType string) {
	queued := false
	for _, sub := range s.nt.subs {
		if sub.Resource != resource || !strings.Contains(sub.ChangeType, changeType) {
			continue
		}
		s.nt.pending = append(s.nt.pending, pendingNote{sub: sub.ID, changeType: changeType, resource: resource, id: id})
		queued = true
	}
	if queued {
		s.startNotifierLocked()
		select {
		case s.nt.wake <- struct{}{}:
		default:
		}
	}
}

func (s *Server) startNotifierLocked() {
	if s.nt.started {
		return
	}
	s.nt.started = true
	go s.deliverLoop()
}

// deliverLoop sends what changedLocked queued, NotifyDelay after the first
// change of a batch.
func (s *Server) deliverLoop() {
	for {
		select {
		case <-s.nt.done:
			return
		case <-s.nt.wake:
		}
		s.mu.Lock()
		delay := s.notifyDelay
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-s.nt.done:
				return
			case <-time.After(delay):
			}
		}
		s.mu.Lock()
		pending := s.nt.pending
		s.nt.pending = nil
		batches := map[string][]any{} // by notification URL
		for _, p := range pending {
			sub, ok := s.nt.subs[p.sub]
			if !ok {
				continue
			}
			odataType := "#Microsoft.Graph.User"
			path := "Users/" + p.id
			if p.resource == "groups" {
				odataType, path = "#Microsoft.Graph.Group", "Groups/"+p.id
			}
			batches[sub.NotificationURL] = append(batches[sub.NotificationURL], map[string]any{
				"subscriptionId":                 sub.ID,
				"subscriptionExpirationDateTime": sub.Expires.UTC().Format(time.RFC3339Nano),
				"changeType":                     p.changeType,
				"resource":                       path,
				"resourceData":                   map[string]any{"@odata.type": odataType, "@odata.id": path, "id": p.id, "organizationId": s.TenantID},
				"clientState":                    sub.ClientState,
				"tenantId":                       s.TenantID,
			})
		}
		s.mu.Unlock()
		for u, value := range batches {
			body, _ := json.Marshal(map[string]any{"value": value})
			s.post(u, body)
		}
	}
}

func (s *Server) client() *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notifyClient != nil {
		return s.notifyClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// post delivers a notification body; 2xx is success.
func (s *Server) post(u string, body []byte) error {
	resp, err := s.client().Post(u, "application/json", bytes.NewReader(body))
	if err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			err = fmt.Errorf("entratest: %s answered %s", u, resp.Status)
		}
	}
	s.mu.Lock()
	if err != nil {
		s.nt.failed++
	} else {
		s.nt.delivered++
	}
	s.mu.Unlock()
	return err
}

// validate makes Graph's validation request to u: a POST with
// ?validationToken= whose answer must be 200, text/plain, the token.
func (s *Server) validate(ctx context.Context, u string) error {
	tok := make([]byte, 24)
	rand.Read(tok)
	token := "Validation: Testing client application reachability for subscription Request-Id: " + hex.EncodeToString(tok)
	pu, err := url.Parse(u)
	if err != nil {
		return err
	}
	q := pu.Query()
	q.Set("validationToken", token)
	pu.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, pu.String(), nil)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := s.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("answered %s", resp.Status)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"):
		return fmt.Errorf("answered Content-Type %q, not text/plain", resp.Header.Get("Content-Type"))
	case string(got) != token:
		return fmt.Errorf("did not echo the validation token")
	}
	return nil
}

type subscriptionDoc struct {
	ID                        string `json:"id,omitempty"`
	Resource                  string `json:"resource,omitempty"`
	ChangeType                string `json:"changeType,omitempty"`
	NotificationURL           string `json:"notificationUrl,omitempty"`
	LifecycleNotificationURL  string `json:"lifecycleNotificationUrl,omitempty"`
	ClientState               string `json:"clientState,omitempty"`
	ExpirationDateTime        string `json:"expirationDateTime,omitempty"`
	LatestSupportedTLSVersion string `json:"latestSupportedTlsVersion,omitempty"`
}

func subJSON(sub *Subscription) subscriptionDoc {
	// Graph returns clientState as null on reads; it is only sent in notifications.
	return subscriptionDoc{ID: sub.ID, Resource: sub.Resource, ChangeType: sub.ChangeType, NotificationURL: sub.NotificationURL,
		LifecycleNotificationURL: sub.LifecycleURL, ExpirationDateTime: sub.Expires.UTC().Format(time.RFC3339Nano)}
}

// serveSubscriptions serves /subscriptions and /subscriptions/{id}.
func (s *Server) serveSubscriptions(w http.ResponseWriter, r *http.Request, rest string) {
	s.mu.Lock()
	s.count("subscriptions")
	s.mu.Unlock()
	id, hasID := strings.CutPrefix(rest, "subscriptions/")
	switch {
	case !hasID && r.Method == http.MethodPost:
		s.createSubscription(w, r)
	case !hasID && r.Method == http.MethodGet:
		// The application's subscriptions (one page: the emulator holds few).
		s.mu.Lock()
		docs := []subscriptionDoc{}
		for _, sub := range s.nt.subs {
			if time.Now().Before(sub.Expires) {
				docs = append(docs, subJSON(sub))
			}
		}
		s.mu.Unlock()
		b, _ := json.Marshal(map[string]any{"value": docs})
		writeJSON(w, b)
	case hasID && (r.Method == http.MethodGet || r.Method == http.MethodPatch || r.Method == http.MethodDelete):
		s.mu.Lock()
		sub, ok := s.nt.subs[id]
		if ok && !time.Now().Before(sub.Expires) {
			delete(s.nt.subs, id) // expired: Graph deletes it
			ok = false
		}
		if !ok {
			s.mu.Unlock()
			graphError(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
			return
		}
		switch r.Method {
		case http.MethodDelete:
			delete(s.nt.subs, id)
			s.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodPatch:
			var d subscriptionDoc
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&d); err != nil {
				s.mu.Unlock()
				graphError(w, http.StatusBadRequest, "InvalidRequest", "Invalid request body.")
				return
			}
			exp, err := checkExpiry(d.ExpirationDateTime)
			if err != nil {
				s.mu.Unlock()
				graphError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
				return
			}
			sub.Expires = exp
		}
		doc := subJSON(sub)
		s.mu.Unlock()
		b, _ := json.Marshal(doc)
		writeJSON(w, b)
	default:
		graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Method not allowed.")
	}
}

func checkExpiry(v string) (time.Time, error) {
	exp, err := time.Parse(time.RFC3339Nano, v)
	switch {
	case err != nil:
		return time.Time{}, fmt.Errorf("expirationDateTime: not a date and time")
	case !exp.After(time.Now()):
		return time.Time{}, fmt.Errorf("Subscription expiration can only be in the future.")
	case exp.After(time.Now().Add(MaxSubscriptionLifetime)):
		return time.Time{}, fmt.Errorf("Subscription expiration can only be %d minutes in the future.", int(MaxSubscriptionLifetime/time.Minute))
	}
	return exp, nil
}

func (s *Server) createSubscription(w http.ResponseWriter, r *http.Request) {
	var d subscriptionDoc
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&d); err != nil {
		graphError(w, http.StatusBadRequest, "InvalidRequest", "Invalid request body.")
		return
	}
	resource := strings.TrimPrefix(d.Resource, "/")
	if resource != "users" && resource != "groups" {
		graphError(w, http.StatusBadRequest, "InvalidRequest", "entratest supports subscriptions on users and groups only.")
		return
	}
	for _, ct := range strings.Split(d.ChangeType, ",") {
		if ct != "updated" && ct != "deleted" {
			graphError(w, http.StatusBadRequest, "ExtensionError",
				fmt.Sprintf("ChangeType '%s' is not supported for resource '%s'.", ct, resource))
			return
		}
	}
	if len(d.ClientState) > 128 {
		graphError(w, http.StatusBadRequest, "InvalidRequest", "clientState must be at most 128 characters.")
		return
	}
	exp, err := checkExpiry(d.ExpirationDateTime)
	if err != nil {
		graphError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	urls := []string{d.NotificationURL}
	if d.LifecycleNotificationURL != "" {
		urls = append(urls, d.LifecycleNotificationURL)
	}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			graphError(w, http.StatusBadRequest, "InvalidRequest", "notificationUrl must be an https URL.")
			return
		}
		if err := s.validate(r.Context(), u); err != nil {
			graphError(w, http.StatusBadRequest, "ValidationError",
				fmt.Sprintf("Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request (%v).", err))
			return
		}
	}
	s.mu.Lock()
	s.nextID++
	sub := &Subscription{ID: guid("73756273", s.nextID), Resource: resource, ChangeType: d.ChangeType, NotificationURL: d.NotificationURL,
		LifecycleURL: d.LifecycleNotificationURL, ClientState: d.ClientState, Expires: exp}
	s.nt.subs[sub.ID] = sub
	doc := subJSON(sub)
	doc.ClientState = d.ClientState
	s.mu.Unlock()
	b, _ := json.Marshal(doc)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(b)
}
