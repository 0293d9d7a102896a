package httppolicy

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Exchange is one request a policy transport sent, as an Observer sees it:
// who sent it and how it ended. It carries no URL path, header or body.
type Exchange struct {
	Backend string // Options.Name: "entra", "okta", "scim", "webhook"
	Origin  string // the configured origin it went to
	// Status is the answer's HTTP status; 0 when no answer came
	// (connection refused, TLS failure, timeout).
	Status int
	// Wait is, for a 429, how long the server asked to wait (Retry-After,
	// or Okta's X-Rate-Limit-Reset), within MaxWait; 0 otherwise.
	Wait time.Duration
}

// Observer is told of every exchange of every policy transport: the one
// place outbound traffic is counted (metrics), whatever client sent it.
// Observe must be quick and must not block.
type Observer interface {
	Observe(Exchange)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Exchange)

func (f ObserverFunc) Observe(x Exchange) { f(x) }

type observerBox struct{ o Observer }

var observer atomic.Pointer[observerBox]

// SetObserver makes o the observer of every transport (those already built
// included); nil removes it. A process has one: the daemon's metrics.
func SetObserver(o Observer) {
	if o == nil {
		observer.Store(nil)
		return
	}
	observer.Store(&observerBox{o})
}

// observe reports an exchange to the observer, if any.
func observe(backend, origin string, resp *http.Response, now time.Time) {
	b := observer.Load()
	if b == nil {
		return
	}
	x := Exchange{Backend: backend, Origin: origin}
	if resp != nil {
		x.Status = resp.StatusCode
		if resp.StatusCode == http.StatusTooManyRequests {
			x.Wait = throttleWait(resp.Header, now)
		}
	}
	b.o.Observe(x)
}

// throttleWait is the wait a 429 asks for: Retry-After (already rewritten
// to whole seconds within MaxWait by fixRetryAfter) or Okta's
// X-Rate-Limit-Reset (epoch seconds, measured against the answer's Date).
func throttleWait(h http.Header, now time.Time) time.Duration {
	if d, ok := RetryAfter(h.Get("Retry-After"), now); ok {
		return min(d, MaxWait)
	}
	reset, err := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64)
	if err != nil {
		return 0
	}
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	return max(min(time.Unix(reset, 0).Sub(now), MaxWait), 0)
}
