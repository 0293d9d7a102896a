package oktatest

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3/jwt"
)

// token is /oauth2/v1/token for service apps: client_credentials with a
// private_key_jwt client assertion (the SDK sends the parameters in the
// query string, Okta also accepts a form body).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	w.Header().Set("Date", now.Format(http.TimeFormat))
	s.total++
	fail := func(desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		writeJSONBody(w, map[string]any{"error": "invalid_client", "error_description": desc})
	}
	if r.Method != http.MethodPost || r.Form.Get("grant_type") != "client_credentials" {
		fail("The grant type is not supported.")
		return
	}
	tok, err := jwt.ParseSigned(r.Form.Get("client_assertion"))
	if err != nil {
		fail("The client_assertion is not a valid JWT.")
		return
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		fail("The client_assertion is not a valid JWT.")
		return
	}
	pub, ok := s.oauthClients[unverified.Subject]
	if !ok {
		fail("The client_id is not registered.")
		return
	}
	var c jwt.Claims
	if err := tok.Claims(pub, &c); err != nil {
		fail("The client_assertion signature is invalid.")
		return
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: unverified.Subject, Subject: unverified.Subject,
		Audience: jwt.Audience{s.URL + "/oauth2/v1/token"}, Time: now}, time.Minute); err != nil {
		fail("The client_assertion is invalid: " + err.Error())
		return
	}
	at := "oktatest." + newID("at") + newID("")
	s.bearer[at] = now.Add(time.Hour)
	w.Header().Set("Content-Type", "application/json")
	writeJSONBody(w, map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": at,
		"scope": strings.Join(strings.Fields(r.Form.Get("scope")), " ")})
}
