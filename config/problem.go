package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with the configuration, located by the field's
// path (connections[1].deprovision.deleted) and its line in the file so the
// operator can fix every problem in one edit.
type Problem struct {
	File string // the config file's name, as given to Parse
	Path string // field path; "" for the file as a whole
	Line int    // 1-based; 0 when unknown
	Msg  string
}

// String reads "idsync.yaml:12: connections[1].deprovision.deleted: must be one of delete, disable".
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one pass. It is the error Parse, Load
// and Backend.Decode return, so callers can list them all (errors.As).
type Problems []Problem

// Error lists the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sorted returns the problems ordered by line then path, without exact
// duplicates (source.scope is checked both by Parse and by a backend that
// decodes it). Use it when merging problems from Parse and Backend.Decode.
func (ps Problems) Sorted() Problems {
	out := make(Problems, len(ps))
	copy(out, ps)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Path < out[j].Path
	})
	n := 0
	for i, p := range out {
		if i > 0 && p == out[n-1] {
			continue
		}
		out[n] = p
		n++
	}
	return out[:n]
}

// err returns ps sorted as an error, or a nil error (not a nil Problems).
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps.Sorted()
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// joinKey extends a field path by a mapping key.
func joinKey(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// joinIndex extends a field path by a list index.
func joinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// suggest returns the candidate closest to key when it is close enough to
// be a typo, for "unknown key (did you mean ...)".
func suggest(key string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(key), c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(key) <= 4 {
		limit = 1
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
