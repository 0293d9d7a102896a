package scim_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/internal/httppolicy"
)

// A listing page holding far more entries than idsync asks for (here 3000
// empty objects, a few KiB that would decode to thousands of maps) is
// refused before it is decoded, like an Entra page (review of issue 9).
func TestSCIMListingPageWithTooManyEntriesRefused(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		io.WriteString(w, `{"totalResults":3000,"Resources":[`+strings.Repeat("{},", 2999)+`{}]}`)
	}))
	t.Cleanup(hs.Close)
	err := hostileClient(t, hs, nil).ListUsers(t.Context(), func([]idsync.Applied) error { return nil })
	if !httppolicy.IsTooManyElements(err) {
		t.Fatalf("listing of 3000 entries: err = %v, want it refused for its entries", err)
	}
}

// A workspace id longer than targets.MaxWorkspaceID is not recorded.
func TestSCIMOverlongIDRefused(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		if r.Method == http.MethodPost {
			w.WriteHeader(201)
			io.WriteString(w, `{"id":"`+strings.Repeat("7", 5000)+`","userName":"a@example.com"}`)
			return
		}
		io.WriteString(w, `{"totalResults":0,"Resources":[]}`)
	}))
	t.Cleanup(hs.Close)
	got, err := hostileClient(t, hs, nil).Apply(t.Context(), createOp(account("u1", "a@example.com")))
	if err == nil || !strings.Contains(err.Error(), "5000 bytes") {
		t.Fatalf("create answered with a 5000-byte id: applied %q, err %v; want it refused", got.TargetID, err)
	}
}
