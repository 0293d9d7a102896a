package scim_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/targets/scim"
)

// FuzzClientResponse answers every request of a create and of a listing
// with one status and body, through the client's real transport policy and
// decoding: whatever a workspace answers, the client must not panic, must
// never report an applied op without a usable workspace id, and must put no
// control character (terminal escapes included) into its errors.
func FuzzClientResponse(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzClientResponse (users, lists, errors with
	// escapes, answers without or with odd ids, a server ignoring
	// startIndex, empty and redirect answers).
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			status = 200 + (status%400+400)%400
		}
		rt := roundTrip(func(r *http.Request) (*http.Response, error) {
			if r.Body != nil {
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
			}
			return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/scim+json"}},
				Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
		})
		c, err := scim.New(scim.Config{URL: "https://workspace.example/scim/v2", Token: "t", RateLimit: scim.Rate(0),
			HTTPClient: &http.Client{Transport: rt}, Timeout: time.Second,
			Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
		if err != nil {
			t.Fatal(err)
		}
		a := &idsync.Account{ExternalID: "u1", UserName: "a@example.com", Email: "a@example.com", Active: true}
		got, err := c.Apply(context.Background(), idsync.Op{Kind: idsync.OpCreate, ObjectID: "u1", Account: a})
		check(t, "create", err)
		if err == nil && !usableID(got.TargetID) {
			t.Fatalf("create applied with workspace id %q", got.TargetID)
		}
		err = c.ListUsers(context.Background(), func(page []idsync.Applied) error {
			for _, p := range page {
				if !usableID(p.TargetID) {
					t.Fatalf("listing gave workspace id %q", p.TargetID)
				}
			}
			return nil
		})
		check(t, "list", err)
		_, err = c.Apply(context.Background(), idsync.Op{Kind: idsync.OpDisable, ObjectID: "u1", TargetID: "42", Account: a})
		check(t, "disable", err)
	})
}

func usableID(id string) bool {
	return strings.TrimSpace(id) != "" && strings.IndexFunc(id, unicode.IsControl) < 0
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && strings.IndexFunc(err.Error(), func(r rune) bool { return unicode.IsControl(r) || r == '\u202e' }) >= 0 {
		t.Fatalf("%s: error carries control characters: %q", what, err.Error())
	}
}
