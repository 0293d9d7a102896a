package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/idsync/idsync/sources"
)

// Event hooks (issue 14): `idsync notify register` creates the
// connection's hook through the Event Hooks API and asks Okta to verify
// it. That needs a token that may manage event hooks: an API token of a
// super admin, or a service app granted okta.eventHooks.manage (add it to
// oauth.scopes). Without it, the hook is set up in the Admin Console
// (Workflow → Event Hooks) — see the README.

var _ sources.HookRegistrar = (*Source)(nil)

// ManageHooksScope is the OAuth scope the Event Hooks API needs.
const ManageHooksScope = "okta.eventHooks.manage"

type eventHookDoc struct {
	ID                 string `json:"id,omitempty"`
	Name               string `json:"name,omitempty"`
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

// send is one Event Hooks API call.
func (s *Source) send(ctx context.Context, method, path string, body, v any) (*okta.Response, error) {
	re := s.client.CloneRequestExecutor()
	req, err := re.WithAccept("application/json").WithContentType("application/json").NewRequest(method, path, body)
	if err != nil {
		return nil, err
	}
	return re.Do(ctx, req, v)
}

// hookError explains a refused Event Hooks call.
func (s *Source) hookError(ctx context.Context, what string, resp *okta.Response, err error) error {
	if st := status(resp); st == http.StatusForbidden || st == http.StatusUnauthorized {
		return fmt.Errorf("okta: %s: %w: the token may not manage event hooks (it needs a super admin's API token, or %s in oauth.scopes); "+
			"set the hook up in the Admin Console instead (README, \"Change notifications\")", what, sources.ErrUnauthorized, ManageHooksScope)
	}
	return s.fail(ctx, what, resp, err)
}

// RegisterHook creates an active event hook for eventTypes, delivered to
// url with authorization in the Authorization header, and returns its id.
// Okta keeps it unverified until VerifyHook.
func (s *Source) RegisterHook(ctx context.Context, name, url, authorization string, eventTypes []string) (string, error) {
	var h eventHookDoc
	h.Name = name
	h.Events.Type, h.Events.Items = "EVENT_TYPE", eventTypes
	h.Channel.Type, h.Channel.Version = "HTTP", "1.0.0"
	h.Channel.Config.URI = url
	h.Channel.Config.AuthScheme = &struct {
		Type  string `json:"type"`
		Key   string `json:"key"`
		Value string `json:"value,omitempty"`
	}{Type: "HEADER", Key: "Authorization", Value: authorization}
	var out eventHookDoc
	resp, err := s.send(ctx, http.MethodPost, "/api/v1/eventHooks", h, &out)
	if err != nil {
		return "", s.hookError(ctx, "create event hook", resp, err)
	}
	if out.ID == "" {
		return "", errors.New("okta: create event hook: Okta answered without an id")
	}
	return out.ID, nil
}

// VerifyHook asks Okta to verify hook id: Okta sends the endpoint a GET
// with X-Okta-Verification-Challenge, which must be echoed back.
func (s *Source) VerifyHook(ctx context.Context, id string) error {
	var out eventHookDoc
	resp, err := s.send(ctx, http.MethodPost, "/api/v1/eventHooks/"+id+"/lifecycle/verify", nil, &out)
	if err != nil {
		return s.hookError(ctx, "verify event hook", resp, err)
	}
	if out.VerificationStatus != "VERIFIED" {
		return fmt.Errorf("okta: verify event hook: still %s", out.VerificationStatus)
	}
	return nil
}

// DeleteHook deactivates and deletes hook id (Okta deletes only inactive
// hooks); one already gone is not an error.
func (s *Source) DeleteHook(ctx context.Context, id string) error {
	resp, err := s.send(ctx, http.MethodPost, "/api/v1/eventHooks/"+id+"/lifecycle/deactivate", nil, nil)
	if status(resp) == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return s.hookError(ctx, "deactivate event hook", resp, err)
	}
	resp, err = s.send(ctx, http.MethodDelete, "/api/v1/eventHooks/"+id, nil, nil)
	if err != nil && status(resp) != http.StatusNotFound {
		return s.hookError(ctx, "delete event hook", resp, err)
	}
	return nil
}
