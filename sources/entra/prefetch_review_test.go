package entra_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
)

// The users/delta decoder hands a page's nextLink to the pull as soon as it
// has read it, before the rest of the page, so the next page is asked for
// early. A page that then turns out invalid must fail the pull with
// nothing of it or of the prefetched page emitted, and a link off graph_url
// must not be asked for even early.
func TestEntraInvalidPageTailPrefetchNeverUsed(t *testing.T) {
	elsewhere := atomic.Int32{}
	other := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	for _, tail := range []string{
		`,"x":}`, // a syntax error after value
		`,"@odata.deltaLink":"https://evil.example/v1.0/users/delta"}`, // a link off graph_url
		`,"value":[]}`, // value twice
		`,"z":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, // too deep
	} {
		for _, next := range []string{"GRAPH/users/delta?$skiptoken=2", other.URL + "/v1.0/users/delta?$skiptoken=2"} {
			t.Run(tail[:min(len(tail), 20)]+" "+next[:5], func(t *testing.T) {
				var page2 atomic.Int32
				cfg := hostileGraph(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					graph := "https://" + r.Host + "/v1.0"
					switch {
					case strings.Contains(r.URL.Path, "deletedItems"):
						fmt.Fprint(w, `{"value":[]}`)
					case r.URL.Query().Get("$skiptoken") == "2":
						page2.Add(1)
						fmt.Fprintf(w, `{"@odata.deltaLink":%q,"value":[{"id":"u2","userPrincipalName":"b@x"}]}`, graph+"/users/delta?$deltatoken=d")
					default:
						fmt.Fprintf(w, `{"@odata.nextLink":%q,"value":[{"id":"u1","userPrincipalName":"a@x"}]`+tail,
							strings.ReplaceAll(next, "GRAPH", graph))
					}
				})
				src := open(t, cfg)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				var emitted []idsync.Change
				_, _, err := src.Pull(ctx, "", func(cs []idsync.Change) error { emitted = append(emitted, cs...); return nil })
				if err == nil {
					t.Fatalf("pull accepted the page; emitted %d changes", len(emitted))
				}
				for _, c := range emitted {
					if c.User != nil {
						t.Fatalf("user %s emitted from a refused page or its prefetch (err %v)", c.User.ID, err)
					}
				}
				if elsewhere.Load() != 0 {
					t.Fatalf("a link off graph_url was asked for")
				}
				t.Logf("err: %v; prefetched page 2 asked %d times", err, page2.Load())
			})
		}
	}
}
