package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/idsync/idsync/internal/httppolicy"
)

// safeReload is reload for the daemon: a panic anywhere in loading,
// validating or wiring the new configuration becomes an error, so the
// daemon keeps the configuration it runs and says why, instead of dying on
// a SIGHUP. The stack goes to the debug log; the error says where to find it.
func safeReload(ctx context.Context, g *globals, cur *app) (next *app, err error) {
	defer func() {
		if r := recover(); r != nil {
			what := panicText(r)
			cur.log.Debug("reload panicked", "panic", what, "stack", string(debug.Stack()))
			next, err = nil, fmt.Errorf("reload: internal error (%s); this is a bug in idsync: please report it with the stack the debug log (--verbose) shows", what)
		}
	}()
	return reload(ctx, g, cur)
}

// panicText describes a recovered value without quoting data: the runtime's
// own messages (nil dereference, index out of range) name code only, but a
// panic(value) may carry a config value or a secret, so only its type is
// told. Used wherever cmd/idsync recovers (reload, the control socket).
func panicText(r any) string {
	if re, ok := r.(runtime.Error); ok {
		return httppolicy.Text(re.Error())
	}
	return fmt.Sprintf("panic with a %T", r)
}
