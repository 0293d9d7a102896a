package sync

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/idsync/idsync/state"
)

// Review of issue 9 (low): A recovered panic's value goes verbatim
// (fmt.Sprint, cut at 500 bytes) into the run's error, the runs table and
// the log. SDKs panic with messages that quote what a server sent, so a
// panic value is server-supplied text: control characters and terminal
// escapes must be removed as for any other (httppolicy.Text), and
// reload_guard's panicText already treats a panic value as possibly holding
// a secret (only its type is told) while the run's guard prints it.
func TestReview9PanicValueWithEscapesIsCleanedBeforeStored(t *testing.T) {
	h := newHarness(t, Policy{})
	h.src.user("u1", "alice")
	h.src.failPage = func(k int, full bool) error { panic("unexpected field \x1b]0;pwned\x07\x1b[2J in the answer") }
	_, err := h.engine.Run(context.Background(), h.conn, Options{})
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("run with a panicking source: %v", err)
	}
	if strings.ContainsRune(err.Error(), 0x1b) {
		t.Errorf("the run's error holds a terminal escape: %q", err.Error())
	}
	if r := lastRun(t, h, "acme"); r.Result != state.RunFailed || strings.ContainsRune(r.Error, 0x1b) {
		t.Errorf("run recorded as %s %q", r.Result, r.Error)
	}
}
