package httppolicy

import (
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ClampWait bounds a wait a server asked for to [0, MaxWait] and logs (at
// warning level, on the default logger) when it had to cut it: the server,
// the header and what it asked for. backend and origin name who asked,
// header the header it came from.
func ClampWait(backend, origin, header string, d time.Duration) time.Duration {
	if d <= MaxWait {
		return max(d, 0)
	}
	slog.Warn("server asked to wait longer than idsync allows; waiting the maximum instead",
		"backend", backend, "origin", origin, "header", header, "asked", d.String(), "max", MaxWait.String())
	return MaxWait
}

// RetryAfter parses a Retry-After value: delay-seconds (fractions and
// exponents accepted, as the Graph SDK accepts them) or an HTTP date
// relative to now. ok is false when v is absent or unreadable. The result
// is not clamped; see ClampWait.
func RetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case math.IsNaN(secs):
			return 0, false
		case secs <= 0:
			return 0, true
		case secs >= float64(math.MaxInt64/int64(time.Second)):
			return time.Duration(math.MaxInt64), true // no overflow into a negative wait
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// fixRetryAfter rewrites a readable Retry-After to whole seconds within
// MaxWait, so every layer above (the Graph SDK's retry handler, azcore,
// idsync's retriers) waits the same bounded time, whatever form the server
// used. An unreadable one is removed: each layer then backs off its own way.
func fixRetryAfter(backend, origin string, h http.Header, now time.Time) {
	v := h.Get("Retry-After")
	if v == "" {
		return
	}
	d, ok := RetryAfter(v, now)
	if !ok {
		h.Del("Retry-After")
		return
	}
	d = ClampWait(backend, origin, "Retry-After", d)
	h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10))
}
