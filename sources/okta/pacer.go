package okta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idsync/idsync/internal/httppolicy"
)

// pacer is the http.RoundTripper under the SDK. Okta rate limits are per
// org and per endpoint bucket and are shared with every other API client of
// the org, so it reads X-Rate-Limit-Limit/Remaining/Reset on every answer and
// waits for the window to reset *before* the bucket drops into the reserve
// (headroom percent of the limit) it leaves to the others. On a 429 it waits
// until the Reset the answer names; on a 5xx or a dropped connection it backs
// off a little. It answers with the last failure when the tries run out.
//
// Every wait it derives from the headers is at most httppolicy.MaxWait, and
// the clock skew it takes from Date at most maxSkew: a reset or a Date
// years away (a test got a 292-year sleep) is cut and logged, and the run
// goes on or fails within its deadline.
type pacer struct {
	next     http.RoundTripper
	origin   string // org_url, for logs
	headroom int    // percent of each bucket's limit left for others
	tries    int
	timeout  time.Duration // per attempt, so rate-limit waits do not count
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	buckets map[string]*bucketState
	skew    time.Duration // server clock minus ours, from Date headers
	skewLog bool          // a clamped skew was logged
	calls   int
	waited  time.Duration
}

type bucketState struct {
	limit, remaining int
	reset            time.Time // server clock
}

func newPacer(next http.RoundTripper, headroom int, timeout time.Duration, now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	return &pacer{next: next, headroom: headroom, tries: 5, timeout: timeout, now: now, sleep: sleep, buckets: map[string]*bucketState{}}
}

// bucket mirrors the endpoint templates of Okta's management rate-limit
// table (users list vs one user, apps by id vs the rest, logs, ...).
func bucket(path string) string {
	rest, ok := strings.CutPrefix(path, "/api/v1/")
	if !ok {
		return path
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch parts[0] {
	case "users", "groups":
		switch len(parts) {
		case 1:
			return "/api/v1/" + parts[0]
		case 2:
			return "/api/v1/" + parts[0] + "/{id}"
		}
		return "/api/v1/" + parts[0] + "*"
	case "apps":
		if len(parts) == 2 {
			return "/api/v1/apps/{id}"
		}
		return "/api/v1/apps*"
	case "logs":
		return "/api/v1/logs"
	}
	return "/api/v1/*"
}

func (p *pacer) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	b := bucket(req.URL.Path)
	var (
		resp *http.Response
		err  error
	)
	for try := 1; ; try++ {
		if d := p.before(b); d > 0 {
			if err := p.pause(ctx, d); err != nil {
				return nil, err
			}
		}
		if try > 1 && req.GetBody != nil {
			body, berr := req.GetBody()
			if berr != nil {
				return nil, berr
			}
			req.Body = body
		}
		actx, cancel := context.WithTimeout(ctx, p.timeout)
		resp, err = p.next.RoundTrip(req.WithContext(actx))
		if err != nil {
			cancel()
		} else {
			resp.Body = &cancelBody{resp.Body, cancel}
		}
		p.mu.Lock()
		p.calls++
		p.mu.Unlock()
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || (req.Body != nil && req.GetBody == nil) {
				return nil, err
			}
			wait = time.Duration(try) * time.Second
		case resp.StatusCode == http.StatusTooManyRequests:
			wait = max(p.after(b, resp), time.Second)
		case resp.StatusCode >= 500 && req.Method == http.MethodGet:
			p.after(b, resp)
			wait = time.Duration(try) * time.Second
		default:
			p.after(b, resp)
			return resp, nil
		}
		if try >= p.tries {
			if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
				resp.Body.Close()
				return nil, &rateLimitError{bucket: b, tries: try}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				// The SDK retries io.EOF without counting the tries, so
				// forever: hand it a failure it treats as final.
				return nil, fmt.Errorf("connection closed without an answer after %d tries: %s", try, err.Error())
			}
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		if err := p.pause(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (p *pacer) pause(ctx context.Context, d time.Duration) error {
	p.mu.Lock()
	p.waited += d
	p.mu.Unlock()
	return p.sleep(ctx, d)
}

// before says how long to wait before the next request to bucket b: until
// the window resets when what is left is within the reserve.
func (p *pacer) before(b string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.buckets[b]
	if st == nil || st.limit <= 0 {
		return 0
	}
	reserve := (st.limit*p.headroom + 99) / 100
	if st.remaining > reserve {
		st.remaining-- // count our own request until its answer corrects it
		return 0
	}
	d := st.reset.Sub(p.now().Add(p.skew))
	// The window is over once we have waited for it; the next answer says
	// how much the new one holds.
	st.remaining = st.limit
	if d <= 0 {
		return 0
	}
	return min(d, httppolicy.MaxWait) // after() stored a reset within it; the skew may have moved since
}

// after records the rate-limit headers of resp and returns how long until
// its bucket's window resets (the wait a 429 asks for).
func (p *pacer) after(b string, resp *http.Response) time.Duration {
	h := resp.Header
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		// Date has second precision and is truncated: the skew comes out
		// up to a second early, which only makes waits longer.
		p.skew = p.clampSkew(d.Sub(now))
	}
	limit, err1 := strconv.Atoi(h.Get("X-Rate-Limit-Limit"))
	remaining, err2 := strconv.Atoi(h.Get("X-Rate-Limit-Remaining"))
	reset, err3 := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0
	}
	st := &bucketState{limit: limit, remaining: remaining, reset: time.Unix(reset, 0)}
	wait := st.reset.Sub(now.Add(p.skew))
	if clamped := httppolicy.ClampWait("okta", p.origin, "X-Rate-Limit-Reset", wait); clamped != wait {
		// Store the cut reset too, so before() waits no longer either.
		wait = clamped
		st.reset = now.Add(p.skew).Add(wait)
	}
	p.buckets[b] = st
	return wait
}

// maxSkew bounds the clock skew taken from Date headers. Okta's clock and
// ours agree within seconds; a Date further off than this is a broken clock
// (theirs or ours) or a hostile answer, and believing it would stretch or
// shrink every wait.
const maxSkew = httppolicy.MaxWait

// clampSkew bounds skew to ±maxSkew, logging the first time it had to.
// Callers hold p.mu.
func (p *pacer) clampSkew(skew time.Duration) time.Duration {
	if skew >= -maxSkew && skew <= maxSkew {
		return skew
	}
	if !p.skewLog {
		p.skewLog = true
		slog.Warn("okta: the Date header is further from this machine's clock than idsync believes; using the maximum skew",
			"origin", p.origin, "skew", skew.String(), "max", maxSkew.String())
	}
	return max(min(skew, maxSkew), -maxSkew)
}

// stats reports requests sent and time spent waiting, for logs and tests.
func (p *pacer) stats() (calls int, waited time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.waited
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// cancelBody ends an attempt's timeout when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// rateLimitError ends a request that is still throttled after waiting for
// the window to reset several times: the org's other clients are using the
// whole budget.
type rateLimitError struct {
	bucket string
	tries  int
}

func (e *rateLimitError) Error() string {
	return fmt.Sprintf("still rate limited (HTTP 429, E0000047) on the %s bucket after %d tries, waiting for X-Rate-Limit-Reset between them; other API clients of the org are using its whole budget", e.bucket, e.tries)
}
