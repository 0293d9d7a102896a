package targets

import (
	"time"

	"github.com/idsync/idsync/internal/httppolicy"
)

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP-date
// (0 when absent, malformed or past), bounded by httppolicy.MaxWait (the
// targets' transports already rewrite the header within it; this keeps a
// caller without that transport from sleeping what a server names).
func RetryAfter(v string) time.Duration {
	d, ok := httppolicy.RetryAfter(v, time.Now())
	if !ok {
		return 0
	}
	return httppolicy.ClampWait("target", "", "Retry-After", d)
}
