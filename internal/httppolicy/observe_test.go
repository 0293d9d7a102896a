package httppolicy_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/httppolicy"
)

// Every exchange of a policy transport reaches the observer with its
// backend, status and, for a 429, the wait the server asked for, in
// either of the forms idsync's servers use; a request that got no answer
// is status 0.
func TestObserverSeesEveryExchange(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/retry-after":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/okta":
			now := time.Now()
			w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
			w.Header().Set("X-Rate-Limit-Reset", itoa(now.Unix()+30))
			w.WriteHeader(http.StatusTooManyRequests)
		case "/huge":
			w.Header().Set("Retry-After", "99999")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	var mu stdsync.Mutex
	var got []httppolicy.Exchange
	httppolicy.SetObserver(httppolicy.ObserverFunc(func(x httppolicy.Exchange) {
		mu.Lock()
		got = append(got, x)
		mu.Unlock()
	}))
	defer httppolicy.SetObserver(nil)

	c := client(t, httppolicy.Options{Name: "okta", Origins: []string{srv.URL}})
	for _, p := range []string{"/ok", "/retry-after", "/okta", "/huge"} {
		if _, _, err := get(c, srv.URL+p, nil); err != nil {
			t.Fatal(err)
		}
	}
	srv.Close()
	if _, _, err := get(c, srv.URL+"/gone", nil); err == nil {
		t.Fatal("a closed server answered")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 {
		t.Fatalf("observed %d exchanges, want 5: %+v", len(got), got)
	}
	want := []struct {
		status   int
		min, max time.Duration
	}{{204, 0, 0}, {429, 7 * time.Second, 7 * time.Second}, {429, 28 * time.Second, 31 * time.Second},
		{429, httppolicy.MaxWait, httppolicy.MaxWait}, {0, 0, 0}}
	for i, w := range want {
		x := got[i]
		if x.Backend != "okta" || x.Status != w.status || x.Wait < w.min || x.Wait > w.max || x.Origin != httppolicy.OriginOf(srv.URL) {
			t.Errorf("exchange %d = %+v, want status %d, wait in [%s, %s]", i, x, w.status, w.min, w.max)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
