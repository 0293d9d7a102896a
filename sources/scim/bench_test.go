package scim

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// In-process costs of the handler over MemRepo (no network): what the
// load benchmark's store adds comes on top.
func benchHandler(b *testing.B, users int) (*MemRepo, *handler, []string) {
	repo := NewMemRepo()
	h := NewHandler(repo, Options{BaseURL: "https://idsync.example/scim/v2/acme"}).(*handler)
	ids := make([]string, users)
	for i := range users {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/Users", strings.NewReader(fmt.Sprintf(
			`{"userName":"user%d@example.com","active":true,"name":{"givenName":"U","familyName":"%d"},"emails":[{"value":"user%d@example.com","type":"work","primary":true}]}`, i, i, i))))
		if rec.Code != 201 {
			b.Fatal(rec.Body)
		}
	}
	copy(ids, repo.ids[KindUser])
	return repo, h, ids
}

func BenchmarkGetByUserNameFilter(b *testing.B) {
	_, h, _ := benchHandler(b, 1000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf(`userName eq "user%d@example.com"`, i%1000)), nil))
		if rec.Code != 200 {
			b.Fatal(rec.Body)
		}
	}
}

func BenchmarkGetByID(b *testing.B) {
	_, h, ids := benchHandler(b, 1000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/Users/"+ids[i%len(ids)], nil))
		if rec.Code != 200 {
			b.Fatal(rec.Body)
		}
	}
}

func BenchmarkPatchActive(b *testing.B) {
	_, h, ids := benchHandler(b, 1000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("PATCH", "/Users/"+ids[i%len(ids)], strings.NewReader(
			fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"%v"}]}`, i%2 == 0))))
		if rec.Code != 204 {
			b.Fatal(rec.Body)
		}
	}
}

func BenchmarkScanFilter(b *testing.B) {
	_, h, _ := benchHandler(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/Users?filter="+url.QueryEscape(`emails[type eq "work" and value sw "user99"]`), nil))
		if rec.Code != 200 {
			b.Fatal(rec.Body)
		}
	}
}
