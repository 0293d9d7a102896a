package targets

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/idsync/idsync/internal/httppolicy"
)

// MaxWorkspaceID bounds a workspace id idsync records. Ids are a UUID or a
// number in every workspace seen; one of kilobytes is a broken or hostile
// answer, and it would be stored, printed and sent back in every later op.
const MaxWorkspaceID = 256

// CheckWorkspaceID refuses an id a workspace (a SCIM endpoint, a webhook
// receiver) answered with that holds control or bidi characters (printed
// later by idsync explain and log, they would drive the operator's
// terminal) or is longer than MaxWorkspaceID bytes. Both targets check the
// ids they record with it.
func CheckWorkspaceID(id string) error {
	if strings.IndexFunc(id, func(r rune) bool { return unicode.IsControl(r) || isBidi(r) }) >= 0 {
		return fmt.Errorf("the workspace answered with an id holding control characters (%q); nothing was recorded",
			httppolicy.Text(clipID(id)))
	}
	if len(id) > MaxWorkspaceID {
		return fmt.Errorf("the workspace answered with an id of %d bytes (at most %d); nothing was recorded", len(id), MaxWorkspaceID)
	}
	return nil
}

// isBidi reports the Unicode bidirectional controls (embeddings,
// overrides, isolates and marks), which reorder what a terminal shows.
func isBidi(r rune) bool {
	return r == 0x200E || r == 0x200F || r == 0x061C || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

func clipID(id string) string {
	if len(id) > 64 {
		return id[:64]
	}
	return id
}
