package httppolicy

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text makes server-supplied text (a SCIM detail, a Graph or Okta error
// message, a plain-text error body) safe to put into an error, a log line,
// the provisioning log or a terminal: terminal escape sequences and control
// characters are removed (line breaks and tabs become spaces), so are
// bidirectional-override characters and invalid UTF-8, runs of spaces
// collapse, and the result is cut to MaxText bytes ("…" marks a cut).
func Text(s string) string { return clip(clean(s), MaxText) }

// Clean returns err with a message fit for operators: URLs in it lose
// their userinfo, query and fragment, and control characters, escapes and
// excess length go as in Text (with room for idsync's own advice). It wraps
// err, so errors.Is and errors.As still see everything inside. nil stays
// nil; an error whose message needs no change is returned as it is.
func Clean(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*cleanError); ok {
		return err
	}
	msg := err.Error()
	out := clip(clean(RedactURLs(msg)), maxErrorText)
	if out == msg {
		return err
	}
	return &cleanError{msg: out, err: err}
}

type cleanError struct {
	msg string
	err error
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }

// urlInText finds URLs in free text: a scheme, "://", and everything up to
// a space, a quote or an angle bracket.
var urlInText = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>` + "`" + `]+`)

// RedactURLs rewrites every URL in s without its userinfo, query and
// fragment: those carry passwords, tokens (a Graph deltatoken, an Okta
// cursor) and personal data (a SCIM filter on an email address).
func RedactURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, redactURL)
}

// redactURL is one URL without userinfo, query and fragment; one that does
// not parse keeps only its scheme and host.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil {
		u.User = nil
		u.RawQuery, u.ForceQuery = "", false
		u.Fragment, u.RawFragment = "", ""
		return u.String()
	}
	scheme, rest, _ := strings.Cut(raw, "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return scheme + "://" + rest
}

// RedactURL is the URL u without userinfo, query and fragment.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.RawQuery, c.ForceQuery = "", false
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// clean removes escapes, controls, bidi overrides and invalid UTF-8 from s
// and collapses spaces.
func clean(s string) string {
	if plain(s) {
		return s // nearly every name a plan prints: no copy
	}
	var b strings.Builder
	b.Grow(min(len(s), maxErrorText+8))
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x1b: // ESC: skip the whole sequence
			i += escapeLen(s[i:])
			continue
		case r == utf8.RuneError && size == 1:
			r = unicode.ReplacementChar
		case r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x85 || r == 0x2028 || r == 0x2029:
			r = ' '
		case unicode.IsControl(r) || isBidi(r):
			i += size
			continue
		}
		i += size
		if r == ' ' {
			if space || b.Len() == 0 {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

// plain reports whether clean would return s as it is: printable ASCII,
// spaces single and not at either end.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return false
			}
		case c < 0x21 || c > 0x7e:
			return false
		}
	}
	return true
}

// escapeLen is the length of the escape sequence at the start of s (which
// starts with ESC): CSI (ESC [ … final byte), OSC/DCS/APC/PM/SOS strings
// (up to BEL or ESC \), or ESC and one more character.
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[':
		for i := 2; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
			if s[i] < 0x20 || s[i] > 0x7e {
				return i // malformed: drop what was read
			}
		}
		return len(s)
	case ']', 'P', '_', '^', 'X':
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	_, size := utf8.DecodeRuneInString(s[1:])
	return 1 + size
}

// isBidi reports the invisible characters that reorder or hide text on
// screen (Trojan Source): embeddings, overrides, isolates and marks.
func isBidi(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
