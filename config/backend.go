package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Backend is a connection's raw `source:` or `target:` block. The config
// package knows only its type; cmd/idsync picks the backend by Type from its
// registry and lets it Decode the rest into its own Config struct.
type Backend struct {
	Type string // the block's `type:`
	Path string // where the block is, e.g. "connections[0].source", for messages

	block *yaml.Node // the mapping as written, for lines
	node  *yaml.Node // the mapping without `type`
	doc   *document
}

// String names the block, never its contents (they hold secrets).
func (b Backend) String() string {
	return fmt.Sprintf("%s (%s)", b.Path, b.Type)
}

// GoString keeps %#v from printing the block's nodes.
func (b Backend) GoString() string {
	return fmt.Sprintf("config.Backend{Type: %q, Path: %q}", b.Type, b.Path)
}

// Decode decodes the block (without `type`, with ${ENV} expanded and
// <secret>_file already read) strictly into v, a pointer to the backend's
// Config struct with yaml tags. Unknown keys and type mismatches are
// returned as Problems with the full path and line
// (idsync.yaml:31: connections[0].target.rate_limt: unknown key (did you mean "rate_limit"?)).
// Fields the block does not mention are left as they are, so v may carry
// defaults.
func (b Backend) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config: decode %s: need a non-nil pointer, got %T", b.Path, v)
	}
	if b.node == nil {
		return fmt.Errorf("config: decode %s: block was not loaded by Parse", b.Path)
	}
	d := newDecoder(b.doc)
	d.decode(b.Path, b.node, rv.Elem())
	for i := range d.probs {
		d.probs[i].Msg = b.Scrub(d.probs[i].Msg)
	}
	return d.probs.err()
}

// Line is the block's line in the file.
func (b Backend) Line() int {
	if b.block == nil {
		return 0
	}
	return b.block.Line
}

// Problemf makes a Problem located at key inside the block ("" for the
// block itself, "type" for its type, "oauth.client_id" for nested keys), for
// errors the caller finds itself, such as an unknown type. The message is
// scrubbed (Scrub): it never shows a value from the environment or a file.
func (b Backend) Problemf(key, format string, args ...any) Problem {
	p := Problem{Path: b.Path, Line: b.Line(), Msg: b.Scrub(fmt.Sprintf(format, args...))}
	if b.doc != nil {
		p.File = b.doc.file
	}
	if key == "" {
		return p
	}
	p.Path = b.Path + "." + key
	if n := b.find(key); n != nil {
		p.Line = n.Line
	}
	return p
}

// Wrap turns an error from a backend's Open/New into Problems located in the
// block: "url: must be https" becomes
// "idsync.yaml:33: connections[0].target.url: must be https". Errors that are
// already Problems pass through; others without a known key prefix are
// placed at the block. A leading "<type>: " (the package's own prefix) is
// looked through. Messages are scrubbed (Scrub): a backend quoting a value
// that came from the environment or a file does not show it.
func (b Backend) Wrap(err error) error {
	if err == nil {
		return nil
	}
	var ps Problems
	if errors.As(err, &ps) {
		out := make(Problems, len(ps))
		for i, p := range ps {
			p.Msg = b.Scrub(p.Msg)
			out[i] = p
		}
		return out
	}
	// A backend reporting several problems at once (errors.Join) gets each
	// placed at its own key.
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			var p Problems
			errors.As(b.Wrap(e), &p)
			ps = append(ps, p...)
		}
		return ps
	}
	msg := err.Error()
	if pkg, after, ok := strings.Cut(msg, ": "); ok && pkg == b.Type {
		msg = after
	}
	if key, after, ok := strings.Cut(msg, ": "); ok && fieldPath.MatchString(key) {
		if b.find(key) != nil || strings.HasPrefix(after, "required") || strings.HasPrefix(after, "missing") {
			return Problems{b.Problemf(key, "%s", after)}
		}
	}
	return Problems{b.Problemf("", "%s", msg)}
}

var fieldPath = regexp.MustCompile(`^[a-z0-9_]+(\[[0-9]+\])?(\.[a-z0-9_]+(\[[0-9]+\])?)*$`)

// find returns the node at a dotted key path inside the block
// ("oauth.scopes[1]"); for a key it returns the key node, whose line is
// where the operator looks.
func (b Backend) find(key string) *yaml.Node {
	n := b.block
	var found *yaml.Node
	for _, part := range strings.Split(key, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		k, v := lookup(n, name)
		if k == nil && b.doc != nil {
			// The operator may have written token_file for what is now token.
			for _, p := range pairsOf(n) {
				if b.doc.renamed[p.key] == name {
					k, v = p.key, p.val
				}
			}
		}
		if k == nil {
			return nil
		}
		found, n = k, resolveAlias(v)
		if hasIdx {
			i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return found
			}
			n = resolveAlias(n.Content[i])
			found = n
		}
	}
	return found
}

func pairsOf(n *yaml.Node) []pair {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	return pairs(n)
}
