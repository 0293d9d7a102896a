package entra

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonReader is the single-pass reader under the users and groups delta
// page decoders (deltapages.go). encoding/json read each page twice
// (checkValid, then the reflective decode) and allocated every field on its
// own; on a 100,000-user first read that was a third of the dry run's CPU.
// The reader accepts exactly the documents encoding/json accepts and reads
// them the way it does (a differential fuzz test, FuzzDeltaPageDecoder,
// holds it to that):
//
//   - the grammar of its scanner: whitespace is space, tab, CR, LF; the
//     escapes are \" \\ \/ \b \f \n \r \t \uXXXX; control bytes in strings
//     are refused; numbers are -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?;
//     nesting deeper than 10,000 is refused; nothing may follow the value;
//   - its unquoting: a lone or reversed UTF-16 surrogate becomes U+FFFD,
//     and so does every byte of invalid UTF-8 (strings are not refused for
//     it);
//   - its field matching: the exact name first, else the name folded as it
//     folds them (appendFoldedName), after unescaping.
//
// One deliberate difference: a field the decoder reads that appears twice
// in one object (after folding) is refused, where encoding/json lets the
// later one win or merges the two. Graph never sends that, and a page that
// does is not one to guess about (a second "@removed" decides whether a
// person is deleted).
type jsonReader struct {
	b     []byte
	i     int
	arena []byte // the kept values of the page, unescaped; made one string at the end
	tmp   []byte // scratch: an unescaped key or value being compared
	fold  []byte // scratch: a folded key
}

// maxJSONDepth is encoding/json's maxNestingDepth.
const maxJSONDepth = 10000

// span is a kept value: arena[off:end].
type span struct{ off, end int32 }

type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg) }

func (r *jsonReader) errf(format string, args ...any) error {
	return &jsonError{off: r.i, msg: fmt.Sprintf(format, args...)}
}

// unexpected describes the byte at r.i (or the end) for an error.
func (r *jsonReader) unexpected(want string) error {
	if r.i >= len(r.b) {
		return r.errf("unexpected end of input, want %s", want)
	}
	return r.errf("unexpected %q, want %s", r.b[r.i], want)
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\r', '\n':
			r.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte (0 at the end, which a
// caller tells from a NUL byte by r.i if it must: NUL is never valid).
func (r *jsonReader) peek() byte {
	r.ws()
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

// end checks that only whitespace follows the top-level value.
func (r *jsonReader) end() error {
	if r.ws(); r.i < len(r.b) { // (not peek: a NUL byte is not the end)
		return r.unexpected("the end of the document")
	}
	return nil
}

// str reads the string at r.i (which is '"') and returns its raw contents
// b[start:stop]; plain reports that they need no unescaping (no escape,
// valid UTF-8).
func (r *jsonReader) str() (start, stop int, plain bool, err error) {
	r.i++
	start = r.i
	plain = true
	ascii := true
	b := r.b
	for i := r.i; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			r.i = i + 1
			if plain && !ascii {
				plain = utf8.Valid(b[start:i])
			}
			return start, i, plain, nil
		case c == '\\':
			plain = false
			i++
			if i >= len(b) {
				r.i = i
				return 0, 0, false, r.unexpected("an escape")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(b) || !isHex(b[i+k]) {
						r.i = i + k
						return 0, 0, false, r.unexpected("a hexadecimal digit in a \\u escape")
					}
				}
				i += 4
			default:
				r.i = i
				return 0, 0, false, r.errf("invalid escape \\%c in a string", b[i])
			}
		case c < 0x20:
			r.i = i
			return 0, 0, false, r.errf("control byte %#x in a string", c)
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	r.i = len(b)
	return 0, 0, false, r.unexpected("the end of a string")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// appendUnquoted appends the value of the raw string contents s (already
// checked by str) as encoding/json's unquoteBytes makes it.
func appendUnquoted(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[r:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						r += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // " \ /
				dst = append(dst, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			dst = utf8.AppendRune(dst, rr) // invalid UTF-8: U+FFFD per byte
		}
	}
	return dst
}

// getu4 is encoding/json's: the \uXXXX at the start of s, or -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// value returns the contents of a string just read by str, unescaped if
// need be (into r.tmp, valid until the next call).
func (r *jsonReader) value(start, stop int, plain bool) []byte {
	if plain {
		return r.b[start:stop]
	}
	r.tmp = appendUnquoted(r.tmp[:0], r.b[start:stop])
	return r.tmp
}

// keep adds a string just read by str to the arena.
func (r *jsonReader) keep(start, stop int, plain bool) span {
	off := int32(len(r.arena))
	if plain {
		r.arena = append(r.arena, r.b[start:stop]...)
	} else {
		r.arena = appendUnquoted(r.arena, r.b[start:stop])
	}
	return span{off, int32(len(r.arena))}
}

// lit reads the literal word (true, false, null) at r.i.
func (r *jsonReader) lit(word string) error {
	if len(r.b)-r.i < len(word) || string(r.b[r.i:r.i+len(word)]) != word {
		return r.errf("invalid literal, want %s", word)
	}
	r.i += len(word)
	return nil
}

// num reads the number at r.i.
func (r *jsonReader) num() error {
	b, i := r.b, r.i
	digits := func() bool {
		s := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > s
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		digits()
	default:
		r.i = i
		return r.unexpected("a digit")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			r.i = i
			return r.unexpected("a digit after the decimal point")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			r.i = i
			return r.unexpected("a digit in the exponent")
		}
	}
	r.i = i
	return nil
}

// skip reads and checks any value at r.i (after whitespace), at nesting
// depth (the depth of the object or array it would open).
func (r *jsonReader) skip(depth int) error {
	switch r.peek() {
	case '{':
		if err := r.open(depth); err != nil {
			return err
		}
		for first := true; ; first = false {
			_, _, _, more, err := r.key(first)
			if err != nil || !more {
				return err
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
	case '[':
		if err := r.open(depth); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := r.elem(first)
			if err != nil || !more {
				return err
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
	case '"':
		_, _, _, err := r.str()
		return err
	case 't':
		return r.lit("true")
	case 'f':
		return r.lit("false")
	case 'n':
		return r.lit("null")
	default:
		return r.num()
	}
}

// open consumes the '{' or '[' at r.i, which opens nesting level depth.
func (r *jsonReader) open(depth int) error {
	if depth > maxJSONDepth {
		return r.errf("nested deeper than %d", maxJSONDepth)
	}
	r.i++
	return nil
}

// key moves to the next member of an object opened by open: more=false at
// its end, else the member's raw key (as str returns it), with r.i at its
// value.
func (r *jsonReader) key(first bool) (start, stop int, plain, more bool, err error) {
	c := r.peek()
	if c == '}' {
		r.i++
		return 0, 0, false, false, nil
	}
	if !first {
		if c != ',' {
			return 0, 0, false, false, r.unexpected(`"," or "}"`)
		}
		r.i++
		c = r.peek()
	}
	if c != '"' {
		return 0, 0, false, false, r.unexpected("a field name")
	}
	if start, stop, plain, err = r.str(); err != nil {
		return 0, 0, false, false, err
	}
	if r.peek() != ':' {
		return 0, 0, false, false, r.unexpected(`":"`)
	}
	r.i++
	if r.peek() == 0 {
		return 0, 0, false, false, r.unexpected("a value")
	}
	return start, stop, plain, true, nil
}

// elem moves to the next element of an array opened by open: more=false at
// its end.
func (r *jsonReader) elem(first bool) (more bool, err error) {
	c := r.peek()
	if c == ']' {
		r.i++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, r.unexpected(`"," or "]"`)
		}
		r.i++
		c = r.peek()
	}
	if c == 0 || c == ']' {
		return false, r.unexpected("a value")
	}
	return true, nil
}

// fields is the field names an object decoder reads, with their folds.
type fields struct {
	names  []string
	folded []string
}

func newFields(names ...string) fields {
	f := fields{names: names}
	for _, n := range names {
		f.folded = append(f.folded, string(appendFoldedName(nil, []byte(n))))
	}
	return f
}

// match returns the index of the field a key names, or -1, as
// encoding/json matches them: exactly, else folded.
func (r *jsonReader) match(fs *fields, start, stop int, plain bool) int {
	k := r.value(start, stop, plain)
	for i, n := range fs.names {
		if string(k) == n {
			return i
		}
	}
	r.fold = appendFoldedName(r.fold[:0], k)
	for i, n := range fs.folded {
		if string(r.fold) == n {
			return i
		}
	}
	return -1
}

// object reads the fields of the object whose '{' open(depth) has just
// read: each field of fs goes to read with its index, once (a second is
// refused), and any other field is skipped whole.
func (r *jsonReader) object(fs *fields, depth int, read func(f int) error) error {
	var mask uint32
	for first := true; ; first = false {
		start, stop, plain, more, err := r.key(first)
		if err != nil || !more {
			return err
		}
		f := r.match(fs, start, stop, plain)
		if f < 0 {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			continue
		}
		if mask&(1<<f) != 0 {
			return r.errf("field %q twice in one object", fs.names[f])
		}
		mask |= 1 << f
		if err := read(f); err != nil {
			return err
		}
	}
}

// appendFoldedName is encoding/json's (fold.go).
func appendFoldedName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// The typed readers below read the value of a field (r.i at it) and refuse
// a value of another JSON type, as encoding/json does (an
// UnmarshalTypeError).

// strOrNull reads a string field; null leaves it unset (ok=false).
func (r *jsonReader) strOrNull(name string) (start, stop int, plain, ok bool, err error) {
	switch r.b[r.i] {
	case '"':
		start, stop, plain, err = r.str()
		return start, stop, plain, err == nil, err
	case 'n':
		return 0, 0, false, false, r.lit("null")
	}
	return 0, 0, false, false, r.typeError(name, "a string")
}

// keepStr reads a kept string field into the arena.
func (r *jsonReader) keepStr(name string) (s span, ok bool, err error) {
	start, stop, plain, ok, err := r.strOrNull(name)
	if !ok {
		return span{}, false, err
	}
	return r.keep(start, stop, plain), true, nil
}

// boolOrNull reads a boolean field; null leaves it unset (set=false).
func (r *jsonReader) boolOrNull(name string) (v, set bool, err error) {
	switch r.b[r.i] {
	case 't':
		return true, true, r.lit("true")
	case 'f':
		return false, true, r.lit("false")
	case 'n':
		return false, false, r.lit("null")
	}
	return false, false, r.typeError(name, "true or false")
}

// typeError refuses the value at r.i for field name.
func (r *jsonReader) typeError(name, want string) error {
	switch c := r.b[r.i]; {
	case c == '-' || '0' <= c && c <= '9' || strings.IndexByte(`{["tfn`, c) >= 0:
		return r.errf("%s: want %s, got %s", name, want, jsonKind(c))
	}
	return r.unexpected("a value")
}

func jsonKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
