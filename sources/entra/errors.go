package entra

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/idsync/idsync/internal/httppolicy"
	"github.com/idsync/idsync/sources"
)

var aadsts = regexp.MustCompile(`AADSTS\d+`)

// graphError turns an SDK error into one that says what to do: an expired
// delta token → sources.ErrCursorExpired (full read); rejected credentials
// or missing permissions → sources.ErrUnauthorized; anything else wrapped.
// Messages carry Graph's and Entra's error codes, never a secret; Graph's
// words pass through httppolicy.Text and whole errors through
// httppolicy.Clean (URLs without query or userinfo).
func (s *Source) graphError(op string, err error) error {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		status := oe.ResponseStatusCode
		code, msg := "", ""
		if me := oe.GetErrorEscaped(); me != nil {
			code, msg = httppolicy.Text(str(me.GetCode())), httppolicy.Text(str(me.GetMessage()))
		}
		switch {
		case status == http.StatusGone || code == "syncStateNotFound" || code == "syncStateInvalid" || code == "resyncRequired":
			return fmt.Errorf("entra: %s: delta token no longer valid (%d %s): %w", op, status, code, sources.ErrCursorExpired)
		case status == http.StatusUnauthorized:
			return fmt.Errorf("entra: %s: Graph rejected the access token of client_id %s (%s: %s): %w",
				op, s.cfg.ClientID, code, msg, sources.ErrUnauthorized)
		case status == http.StatusForbidden:
			return fmt.Errorf("entra: %s: client_id %s may not read this (%s); grant the application permissions "+
				"User.Read.All and GroupMember.Read.All (and Application.Read.All for scope.app_id) with admin consent: %w",
				op, s.cfg.ClientID, code, sources.ErrUnauthorized)
		case status == http.StatusNotFound && code == "Request_ResourceNotFound":
			return fmt.Errorf("entra: %s: not found in tenant %s (%s)", op, s.cfg.TenantID, msg)
		}
		return fmt.Errorf("entra: %s: graph answered %d %s: %s", op, status, code, msg)
	}
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) {
		status := 0
		if af.RawResponse != nil {
			status = af.RawResponse.StatusCode
		}
		if status == http.StatusUnauthorized || status == http.StatusBadRequest {
			what := "client_secret"
			if s.cfg.CertificateFile != "" {
				what = "certificate_file (is the certificate uploaded to the app registration?)"
			}
			code := aadsts.FindString(af.Error())
			return fmt.Errorf("entra: sign-in of client_id %s in tenant_id %s at %s rejected (%d %s): check tenant_id, client_id and %s: %w",
				s.cfg.ClientID, s.cfg.TenantID, s.cfg.AuthorityURL, status, code, what, sources.ErrUnauthorized)
		}
		return fmt.Errorf("entra: %s: sign-in at %s failed (%d): %w", op, s.cfg.AuthorityURL, status, httppolicy.Clean(err))
	}
	return fmt.Errorf("entra: %s: %w", op, httppolicy.Clean(err))
}
