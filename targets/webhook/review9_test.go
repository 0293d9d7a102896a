package webhook_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/idsync/idsync"
)

// Review of issue 9: The receiver's {"targetId": ...} is taken as it
// comes and recorded as the account's workspace id: terminal escapes and
// control characters included (printed later by `idsync explain` as
// "workspace id ..."), and up to the 1 MiB answer cap in length. The SCIM
// target refuses such ids (resourceID); the webhook must check the id the
// same way (no control characters, a sane length) or ignore it.
func TestReview9WebhookTargetIDWithEscapesIsNotRecorded(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"targetId":"acct-1\u001b]0;pwned\u0007\u001b[2J`+strings.Repeat("x", 200_000)+`"}`)
	}))
	t.Cleanup(hs.Close)
	op := idsync.Op{ID: "op-1", Kind: idsync.OpCreate, ObjectID: "u1", Account: &idsync.Account{ExternalID: "u1", UserName: "a@example.com", Active: true}}
	out, err := hostileTarget(t, hs, 0).Apply(t.Context(), op)
	if err != nil {
		return // refusing the answer is fine
	}
	if strings.IndexFunc(out.TargetID, unicode.IsControl) >= 0 {
		t.Errorf("the receiver's targetId is recorded with control characters: %q", out.TargetID[:min(40, len(out.TargetID))])
	}
	if len(out.TargetID) > 1024 {
		t.Errorf("the receiver's targetId is recorded at %d bytes", len(out.TargetID))
	}
}
