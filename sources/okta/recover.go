package okta

import (
	"fmt"
	"runtime"
)

// recoverPull turns a panic during a pull into the pull's error. The SDK
// panics on input it does not expect (a Link URL it cannot parse, before
// linkGuard checked them): whatever else it panics on must fail one run,
// not stop the daemon and every other connection with it. Deferred in Pull.
func recoverPull(err *error) {
	r := recover()
	if r == nil {
		return
	}
	// The runtime's own messages name code only; any other panic value may
	// quote what the server sent, so only its type is told.
	what := fmt.Sprintf("a panic with a %T", r)
	if re, ok := r.(runtime.Error); ok {
		what = re.Error()
	}
	*err = fmt.Errorf("okta: pull stopped by an internal error (%s); this is a bug in idsync or the Okta SDK, please report it", what)
}
