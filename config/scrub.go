package config

import (
	"strings"
	"unicode/utf8"
)

// scrubRun is the shortest stretch of a hidden value that scrub removes
// from a message, and scrubLong the length from which any stretch is
// removed. Between them a stretch must be at least half of its value: short
// pieces such as "https://", ".okta.com" or " is no" are the backend's own
// words more often than a leak, while a host, a user:password@ or a token
// is long or most of its value. A value shorter than scrubRun is neither a
// usable credential nor much of a leak.
const (
	scrubRun  = 6
	scrubLong = 12
)

// scrubNote ends a message from which scrub removed something.
const scrubNote = " (values from the environment or files are not shown)"

// Scrub returns msg without the values this configuration holds that must
// never be shown: secrets, and every value that came from the environment
// (${NAME}) or a file (<secret>_file). Each long enough stretch of
// characters that msg shares with such a value (scrubRun, scrubLong) becomes
// "…", so a backend that quotes a value, or a part of it (a host, the
// user:password@ of a URL), in its error cannot leak it. Backend.Decode,
// Backend.Problemf and Backend.Wrap apply it to everything they return;
// code that puts a backend's or a target's words into a Problem itself
// applies it too.
func (b Backend) Scrub(msg string) string {
	if b.doc == nil {
		return msg
	}
	return b.doc.scrub(msg)
}

func (d *document) scrub(msg string) string {
	var hidden []string
	for n := range d.sensitive {
		if len(n.Value) >= scrubRun {
			hidden = append(hidden, n.Value)
		}
	}
	return scrub(msg, hidden)
}

func scrub(msg string, hidden []string) string {
	if len(hidden) == 0 || len(msg) < scrubRun {
		return msg
	}
	var b strings.Builder
	cut := false
	for i := 0; i < len(msg); {
		n := longestShared(msg[i:], hidden)
		if n == 0 {
			b.WriteByte(msg[i])
			i++
			continue
		}
		if !strings.HasSuffix(b.String(), "…") {
			b.WriteString("…")
		}
		cut = true
		for i += n; i < len(msg) && !utf8.RuneStart(msg[i]); i++ {
			// the rest of a character cut in two
		}
	}
	if !cut {
		return msg
	}
	return b.String() + scrubNote
}

// longestShared is the length of the longest prefix of s that is a
// stretch of one of values long enough to hide (scrubRun, scrubLong), or 0.
func longestShared(s string, values []string) int {
	if len(s) < scrubRun {
		return 0
	}
	head, best := s[:scrubRun], 0
	for _, v := range values {
		need := max(scrubRun, min(scrubLong, (len(v)+1)/2))
		for k := 0; k+scrubRun <= len(v); k++ {
			j := strings.Index(v[k:], head)
			if j < 0 {
				break
			}
			k += j
			n := scrubRun
			for k+n < len(v) && n < len(s) && v[k+n] == s[n] {
				n++
			}
			if n >= need {
				best = max(best, n)
			}
		}
	}
	return best
}
