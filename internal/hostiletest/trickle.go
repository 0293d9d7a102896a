// Package hostiletest holds the misbehaving peers that idsync's
// hostile-input tests share, like net/http/httptest holds well-behaved ones.
package hostiletest

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// Trickle returns a handler that answers 200 with contentType, writes
// prefix, then one space every 10 ms and never finishes: a peer holding the
// answer open forever. It stops when the client goes away or the test ends.
func Trickle(t testing.TB, contentType, prefix string) http.HandlerFunc {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, prefix)
		for {
			w.(http.Flusher).Flush()
			select {
			case <-done:
				return
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
				io.WriteString(w, " ")
			}
		}
	}
}
