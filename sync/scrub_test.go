package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// A connection's Scrub hides its values from the errors the engine returns
// (which still match errors.Is and errors.As) and from its log lines,
// attributes added with With included.
func TestScrubHidesValuesFromErrorsAndLogs(t *testing.T) {
	const secret = "tenant-Zx9SCRUBq7"
	c := &Connection{Scrub: func(s string) string { return strings.ReplaceAll(s, secret, "…") }}

	err := c.scrubErr(fmt.Errorf("pull: sign in to %s: %w", secret, context.DeadlineExceeded))
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the value: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("scrubbed error no longer unwraps: %v", err)
	}
	var se *StalledError
	if !errors.As(c.scrubErr(&StalledError{}), &se) {
		t.Error("errors.As does not see through the scrubbed error")
	}
	if (&Connection{}).scrubErr(err) != err || c.scrubErr(nil) != nil {
		t.Error("no Scrub or no error must leave the error alone")
	}

	var buf bytes.Buffer
	log := c.scrubLog(slog.New(slog.NewTextHandler(&buf, nil))).With("url", "https://"+secret+"/scim")
	log.Warn("op failed at "+secret, "error", errors.New("dial "+secret), "n", 3,
		slog.Group("g", slog.String("host", secret)))
	if out := buf.String(); strings.Contains(out, secret) || !strings.Contains(out, "n=3") {
		t.Errorf("log line:\n%s", out)
	}
}
