package main

import "github.com/idsync/idsync/internal/httppolicy"

// shown makes text from outside idsync (names and ids the IdP or the
// workspace supplied, details and errors that quote them) safe to print
// for people: a group's displayName is chosen by whoever may create a
// group, and its terminal escapes or bidi overrides would drive the
// operator's terminal. Every text-mode print of such a value goes through
// it; JSON output is escaped by encoding/json instead.
func shown(s string) string { return httppolicy.Text(s) }

// shownAll is shown for each of ss.
func shownAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shown(s)
	}
	return out
}
