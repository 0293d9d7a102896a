package entratest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// serveAuthority is the login.microsoftonline.com side: OpenID metadata per
// tenant, AAD instance discovery and the v2.0 token endpoint.
func (s *Server) serveAuthority(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	tenant, rest, _ := strings.Cut(path, "/")
	switch {
	case tenant == "common" && rest == "discovery/instance":
		s.mu.Lock()
		s.count("instance-discovery")
		s.mu.Unlock()
		host := strings.TrimPrefix(s.URL, "https://")
		writeJSON(w, mustJSON(map[string]any{
			"tenant_discovery_endpoint": s.URL + "/" + s.TenantID + "/v2.0/.well-known/openid-configuration",
			"api-version":               "1.1",
			"metadata": []map[string]any{{
				"preferred_network": host, "preferred_cache": host, "aliases": []string{host},
			}},
		}))
	case rest == "v2.0/.well-known/openid-configuration":
		s.mu.Lock()
		s.count("openid-configuration")
		s.mu.Unlock()
		if tenant != s.TenantID {
			oauthError(w, http.StatusBadRequest, "invalid_tenant", 90002,
				"AADSTS90002: Tenant '"+tenant+"' not found. Check to make sure you have the correct tenant ID.")
			return
		}
		base := s.URL + "/" + tenant
		writeJSON(w, mustJSON(map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"issuer":                                base + "/v2.0",
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"tenant_region_scope":                   "EU",
		}))
	case rest == "oauth2/v2.0/token" && r.Method == http.MethodPost:
		s.token(w, r, tenant)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	s.mu.Lock()
	s.count("token")
	s.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	switch {
	case tenant != s.TenantID:
		oauthError(w, http.StatusBadRequest, "invalid_request", 90002, "AADSTS90002: Tenant '"+tenant+"' not found.")
		return
	case f.Get("grant_type") != "client_credentials":
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "AADSTS70003: The app requested an unsupported grant type.")
		return
	case f.Get("client_id") != s.ClientID:
		oauthError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			"AADSTS700016: Application with identifier '"+f.Get("client_id")+"' was not found in the directory.")
		return
	case !hasDefaultScope(f.Get("scope")):
		oauthError(w, http.StatusBadRequest, "invalid_scope", 1002012,
			"AADSTS1002012: The provided value for scope "+f.Get("scope")+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.")
		return
	}
	if a := f.Get("client_assertion"); a != "" {
		if err := s.verifyAssertion(a, s.URL+"/"+tenant+"/oauth2/v2.0/token"); err != "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", 700027, "AADSTS700027: Client assertion failed signature validation. "+err)
			return
		}
	} else if f.Get("client_secret") != s.ClientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", 7000215,
			"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+s.ClientID+"'.")
		return
	}
	b := make([]byte, 24)
	rand.Read(b)
	tok := "entratest." + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(time.Hour)
	s.mu.Unlock()
	writeJSON(w, mustJSON(map[string]any{
		"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok,
	}))
}

// verifyAssertion checks a private_key_jwt client assertion the way Entra
// does for certificate credentials: signed (PS256 or RS256) by the
// registered certificate's key, thumbprint in the header, aimed at the token
// endpoint, issued by and about the client. It returns why it fails, or "".
func (s *Server) verifyAssertion(a, aud string) string {
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		return "malformed JWT"
	}
	var hdr struct {
		Alg     string `json:"alg"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
	}
	var claims struct {
		Aud string  `json:"aud"`
		Iss string  `json:"iss"`
		Sub string  `json:"sub"`
		Exp float64 `json:"exp"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return "bad header"
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "bad claims"
	}
	sum1 := sha1.Sum(s.clientCert.Raw)
	sum256 := sha256.Sum256(s.clientCert.Raw)
	// RFC 7515 says base64url; MSAL sends standard base64 and Entra takes it.
	known := func(got string, sum []byte) bool {
		return got != "" && (got == base64.RawURLEncoding.EncodeToString(sum) || got == base64.StdEncoding.EncodeToString(sum))
	}
	if !known(hdr.X5t, sum1[:]) && !known(hdr.X5tS256, sum256[:]) {
		return "unknown certificate thumbprint"
	}
	if claims.Aud != aud || claims.Iss != s.ClientID || claims.Sub != s.ClientID {
		return "wrong aud, iss or sub"
	}
	if time.Unix(int64(claims.Exp), 0).Before(time.Now()) {
		return "expired"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "bad signature encoding"
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	pub, ok := s.clientCert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "not an RSA certificate"
	}
	switch hdr.Alg {
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	default:
		return "unsupported alg " + hdr.Alg
	}
	if err != nil {
		return "bad signature"
	}
	return ""
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func oauthError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(mustJSON(map[string]any{
		"error": code, "error_description": desc, "error_codes": []int{aadsts},
		"timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"), "trace_id": "00000000-0000-0000-0000-000000000000",
		"correlation_id": "00000000-0000-0000-0000-000000000000",
	}))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// hasDefaultScope: client credentials need exactly one resource scope, and
// it must be "<resource>/.default"; MSAL adds openid, profile and
// offline_access, which Entra ignores for this grant.
func hasDefaultScope(scope string) bool {
	n := 0
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "profile", "offline_access":
			continue
		}
		if !strings.HasSuffix(sc, "/.default") {
			return false
		}
		n++
	}
	return n == 1
}
