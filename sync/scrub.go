package sync

import (
	"context"
	"log/slog"
)

// scrub returns msg without the values of c's configuration that must
// never be shown (c.Scrub): a backend's error can quote a URL, a tenant id
// or a path that came from the environment or a file, and the engine puts
// such errors into run errors, event details and log lines.
func (c *Connection) scrub(msg string) string {
	if c == nil || c.Scrub == nil {
		return msg
	}
	return c.Scrub(msg)
}

// scrubErr wraps err so that its text is scrubbed while errors.Is and
// errors.As still see the original (a *StalledError, ErrNoHeldPlan, …).
func (c *Connection) scrubErr(err error) error {
	if err == nil || c == nil || c.Scrub == nil {
		return err
	}
	return &ScrubbedError{Err: err, scrub: c.Scrub}
}

// ScrubbedError is an error the engine returns whose text hides the values
// of the connection's configuration that must never be shown.
type ScrubbedError struct {
	Err   error
	scrub func(string) string
}

func (e *ScrubbedError) Error() string { return e.scrub(e.Err.Error()) }
func (e *ScrubbedError) Unwrap() error { return e.Err }

// scrubLog returns l with every message and attribute scrubbed (c.Scrub):
// the engine logs backends' errors as they are.
func (c *Connection) scrubLog(l *slog.Logger) *slog.Logger {
	if c == nil || c.Scrub == nil || l == nil {
		return l
	}
	return slog.New(scrubHandler{h: l.Handler(), scrub: c.Scrub})
}

type scrubHandler struct {
	h     slog.Handler
	scrub func(string) string
}

var _ slog.Handler = scrubHandler{}

func (s scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, s.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(s.attr(a))
		return true
	})
	return s.h.Handle(ctx, out)
}

func (s scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for i := range as {
		as[i] = s.attr(as[i])
	}
	return scrubHandler{h: s.h.WithAttrs(as), scrub: s.scrub}
}

func (s scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{h: s.h.WithGroup(name), scrub: s.scrub}
}

// attr scrubs the text of a: strings, errors and whatever else prints
// itself; numbers, times and durations cannot hold a value to hide.
func (s scrubHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, s.scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i := range g {
			out[i] = s.attr(g[i])
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		return slog.String(a.Key, s.scrub(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}
