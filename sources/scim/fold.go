package scim

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// UserNameKey is the key under which a userName is unique (RFC 7643:
// userName is caseExact=false): two names have the same key exactly when
// strings.EqualFold says they are equal (Unicode simple case folding, so
// "ſam" = "sam", "\u212Aelvin" = "kelvin", "ς" = "σ", "ẞ" = "ß"). A Repo
// indexes userNames by it, and filters compare caseExact=false strings
// through it, so that the userName index, the filter and the uniqueness
// check agree. strings.ToLower does not: it keeps "ſ" and "s" apart.
func UserNameKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune picks one representative of r's case-folding orbit: its ASCII
// lower-case letter when the orbit has one (as strings.ToLower would give
// for ASCII), else the orbit's smallest rune.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	if 'A' <= m && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}
