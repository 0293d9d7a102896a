package webhook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"

	"github.com/idsync/idsync/targets/webhook"
)

// A receiver checks the signature on the raw body before trusting it, and
// drops events whose id it has already handled (retries deliver at least
// once).
func ExampleVerify() {
	secret := []byte(os.Getenv("HOOK_SECRET"))
	seen := map[string]bool{} // use a table with a unique key in production
	http.HandleFunc("/hooks/idsync", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, 0); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var e webhook.Event
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		if !seen[e.ID] {
			seen[e.ID] = true
			// handle e.Type: user.created, user.disabled, group.member_added, ...
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
