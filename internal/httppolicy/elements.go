package httppolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// CheckElements refuses a JSON object whose array under key holds more
// than max entries, counting them before the caller decodes the body. The
// body cap bounds the bytes of an answer, not its heap: a page of empty
// objects ("{}," three bytes each) decodes into a slice of full structs or
// maps, tens of times its size, so a list answer must also be bounded by
// the entries the caller asked for. Every occurrence of key at the top
// level counts, in any letter case (encoding/json matches field names
// case-insensitively). A body that is not a JSON object, or is malformed,
// is left to the caller's decoding to refuse.
//
// It scans the bytes without decoding them (a full read of a 100,000-user
// Graph tenant spent a quarter of its decoding time counting with a
// json.Decoder token stream).
func CheckElements(body []byte, key string, max int) error {
	_, err := ScanObject(body, key, max, "")
	return err
}

// CheckArray is CheckElements for an answer that is a JSON array itself
// (Okta's lists); what is not an array is left to the decoder.
func CheckArray(body []byte, max int) error {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '[' {
		return nil
	}
	if n, _ := countArray(body, i, max); n > max {
		return &TooManyElementsError{Key: "[]", Max: max}
	}
	return nil
}

// ScanObject is CheckElements, and also returns the top-level string value
// of want ("" if absent, not a string, or want is ""), so a caller can
// follow a page's next link before it decodes the page. An escaped string
// value is decoded with encoding/json.
func ScanObject(body []byte, key string, max int, want string) (string, error) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return "", nil
	}
	i++
	found := ""
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return found, nil // "}" (the end) or malformed
		}
		end := skipString(body, i)
		if end < 0 {
			return found, nil
		}
		name := keyName(body[i:end])
		i = skipSpace(body, end)
		if i >= len(body) || body[i] != ':' {
			return found, nil
		}
		i = skipSpace(body, i+1)
		switch {
		case strings.EqualFold(name, key) && i < len(body) && body[i] == '[':
			n, next := countArray(body, i, max)
			if n > max {
				return found, &TooManyElementsError{Key: key, Max: max}
			}
			if next < 0 {
				return found, nil
			}
			i = next
		case want != "" && name == want && i < len(body) && body[i] == '"':
			next := skipString(body, i)
			if next < 0 {
				return found, nil
			}
			found = stringValue(body[i:next])
			i = next
		default:
			if i = skipValue(body, i); i < 0 {
				return found, nil
			}
		}
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != ',' {
			return found, nil
		}
		i++
	}
}

// countArray counts the entries of the array at b[i] ('['), stopping once
// it has seen more than max; it returns the count and the index after the
// array (-1 if malformed or stopped).
func countArray(b []byte, i, max int) (int, int) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, i + 1
	}
	for n := 1; ; n++ {
		if n > max {
			return n, -1
		}
		if i = skipValue(b, i); i < 0 {
			return n, -1
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return n, -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return n, i + 1
		default:
			return n, -1
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'),
// or -1 if it does not end.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
// Containers are matched by depth with strings skipped; what is inside is
// not validated (the decoder does that).
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	// a number or a literal: up to the next delimiter
	start := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}

// keyName is a member name without its quotes (decoded if escaped).
func keyName(quoted []byte) string {
	return stringValue(quoted)
}

func stringValue(quoted []byte) string {
	inner := quoted[1 : len(quoted)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(quoted, &s) != nil {
				return ""
			}
			return s
		}
	}
	return string(inner)
}

// TooManyElementsError is a list answer holding more entries than any page
// idsync asks for.
type TooManyElementsError struct {
	Key string
	Max int
}

func (e *TooManyElementsError) Error() string {
	return fmt.Sprintf("the answer's %q holds more than %d entries, more than any page idsync asks for: refused (a server answering this is broken or hostile)", e.Key, e.Max)
}

// IsTooManyElements reports whether err is a TooManyElementsError.
func IsTooManyElements(err error) bool {
	var e *TooManyElementsError
	return errors.As(err, &e)
}
