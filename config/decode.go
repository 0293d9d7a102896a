package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// document is what one parse knows about its nodes beyond the YAML itself.
// It is shared, read-only after Parse, by the Config and its Backends.
type document struct {
	file string
	dir  string // relative *_file paths resolve against it
	// sensitive marks scalar nodes whose value must never be quoted in a
	// message: secrets, and anything that came from the environment or a file.
	sensitive map[*yaml.Node]bool
	// renamed maps a key node rewritten from "token_file" to "token" to the
	// key as written, so messages name what the operator typed.
	renamed map[*yaml.Node]string
	// expanded marks scalars that had ${...} substituted. Their tag was
	// resolved from the unexpanded text (!!str), so numbers and booleans are
	// re-resolved from the expanded value when a non-string field wants them,
	// quoted or not: `max_deletes: "${MAX}"` is an integer.
	expanded map[*yaml.Node]bool
}

// decoder decodes yaml nodes into Go values strictly: unknown keys and type
// mismatches become Problems with the field's path, and decoding goes on so
// one pass finds everything. yaml.v3's own strict mode (KnownFields) exists
// only on its Decoder, which has neither our paths nor a way to continue.
type decoder struct {
	doc   *document
	probs Problems
	// nodes records the node decoded at each path, for validations that come
	// after decoding and need a line.
	nodes map[string]*yaml.Node
}

func newDecoder(doc *document) *decoder {
	return &decoder{doc: doc, nodes: map[string]*yaml.Node{}}
}

func (d *decoder) problem(path string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.probs = append(d.probs, Problem{File: d.doc.file, Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

var (
	nodeType            = reflect.TypeFor[yaml.Node]()
	nodePtrType         = reflect.TypeFor[*yaml.Node]()
	durationType        = reflect.TypeFor[time.Duration]()
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

type pair struct{ key, val *yaml.Node }

// pairs lists a mapping's entries with merge keys (<<: *anchor) flattened;
// explicit keys win over merged ones, as YAML says.
func pairs(n *yaml.Node) []pair {
	var out, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			v = resolveAlias(v)
			switch v.Kind {
			case yaml.MappingNode:
				merged = append(merged, pairs(v)...)
			case yaml.SequenceNode:
				for _, item := range v.Content {
					if item = resolveAlias(item); item.Kind == yaml.MappingNode {
						merged = append(merged, pairs(item)...)
					}
				}
			}
			continue
		}
		out = append(out, pair{k, v})
	}
	if len(merged) == 0 {
		return out
	}
	seen := map[string]bool{}
	for _, p := range out {
		seen[p.key.Value] = true
	}
	for _, p := range merged {
		if !seen[p.key.Value] {
			seen[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

// lookup returns the value of key in mapping n, or nil.
func lookup(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for _, p := range pairs(n) {
		if p.key.Value == key {
			return p.key, p.val
		}
	}
	return nil, nil
}

// keyName is the key as the operator wrote it.
func (d *decoder) keyName(k *yaml.Node) string {
	if orig, ok := d.doc.renamed[k]; ok {
		return orig
	}
	return k.Value
}

// decode decodes n into v (settable) at path.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	n = resolveAlias(n)
	if n != nil {
		d.nodes[path] = n
	}
	t := v.Type()
	switch t {
	case nodeType:
		if n != nil {
			v.Set(reflect.ValueOf(*n))
		}
		return
	case nodePtrType:
		v.Set(reflect.ValueOf(n))
		return
	}
	if isNull(n) {
		return // YAML null leaves the zero value (and nil pointers nil) so defaults apply
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		d.leaf(path, n, v)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(path, n, v.Elem())
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.problem(path, n, "must be a mapping, got %s", d.describe(n))
			return
		}
		d.structure(path, n, v)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.problem(path, n, "must be a mapping, got %s", d.describe(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		d.duplicates(path, n)
		for _, p := range pairs(n) {
			d.mapEntry(path, p, v)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			d.leaf(path, n, v) // []byte: yaml's !!binary handling
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.problem(path, n, "must be a list, got %s", d.describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(joinIndex(path, i), item, s.Index(i))
		}
		v.Set(s)
	default:
		d.leaf(path, n, v)
	}
}

func (d *decoder) mapEntry(path string, p pair, m reflect.Value) {
	t := m.Type()
	key := reflect.New(t.Key()).Elem()
	kpath := joinKey(path, d.keyName(p.key))
	d.leaf(kpath, p.key, key)
	val := reflect.New(t.Elem()).Elem()
	d.decode(kpath, p.val, val)
	m.SetMapIndex(key, val)
}

func (d *decoder) structure(path string, n *yaml.Node, v reflect.Value) {
	info := fieldsOf(v.Type())
	d.duplicates(path, n)
	for _, p := range pairs(n) {
		name := d.keyName(p.key)
		f, ok := info.byName[p.key.Value]
		if !ok {
			if info.inlineMap != nil {
				m := fieldByIndex(v, info.inlineMap)
				if m.IsNil() {
					m.Set(reflect.MakeMap(m.Type()))
				}
				d.mapEntry(path, p, m)
				continue
			}
			msg := "unknown key"
			if s := suggest(name, info.names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else if len(info.names) > 0 && len(info.names) <= 12 {
				msg += " (known: " + strings.Join(info.names, ", ") + ")"
			}
			d.problem(joinKey(path, name), p.key, "%s", msg)
			continue
		}
		d.decode(joinKey(path, name), p.val, fieldByIndex(v, f))
	}
}

// duplicates reports keys given twice in one mapping, which yaml.v3 only
// catches when decoding into Go values, not into a Node.
func (d *decoder) duplicates(path string, n *yaml.Node) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			continue
		}
		name := d.keyName(k)
		if line, dup := seen[k.Value]; dup {
			d.problem(joinKey(path, name), k, "key given twice (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
	}
}

// fieldByIndex is reflect.Value.FieldByIndex allocating nil embedded pointers.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

type structInfo struct {
	byName    map[string][]int
	names     []string // sorted, for suggestions
	inlineMap []int
}

var structCache sync.Map // reflect.Type → *structInfo

// fieldsOf maps yaml keys to fields following yaml.v3's rules: `yaml:"name"`,
// lower-cased field name without a tag, "-" skipped, ",inline" structs and maps.
func fieldsOf(t reflect.Type) *structInfo {
	if info, ok := structCache.Load(t); ok {
		return info.(*structInfo)
	}
	info := &structInfo{byName: map[string][]int{}}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			index := append(append([]int(nil), prefix...), i)
			if strings.Contains(","+opts+",", ",inline,") {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				switch ft.Kind() {
				case reflect.Struct:
					walk(ft, index)
				case reflect.Map:
					info.inlineMap = index
				}
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if _, dup := info.byName[name]; !dup {
				info.byName[name] = index
				info.names = append(info.names, name)
			}
		}
	}
	walk(t, nil)
	sort.Strings(info.names)
	structCache.Store(t, info)
	return info
}

// leaf decodes a scalar (or a type that decodes itself) with yaml.v3, and
// words a failure for people, never quoting a sensitive value.
func (d *decoder) leaf(path string, n *yaml.Node, v reflect.Value) {
	tmp := reflect.New(v.Type())
	orig := n
	if d.doc.expanded[n] && n.Kind == yaml.ScalarNode && !stringLike(v.Type()) && n.Tag == "!!str" {
		retagged := *n
		retagged.Tag, retagged.Style = "", 0
		if isNull(&retagged) {
			// An empty variable must not silently become 0 (max_deletes: 0 is "no limit").
			d.problem(path, n, "must be %s, got an empty value", want(v.Type()))
			return
		}
		n = &retagged
	}
	err := n.Decode(tmp.Interface())
	if err == nil {
		v.Set(tmp.Elem())
		return
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		// A custom unmarshaler's own error: its words are all we have, but
		// they may quote the value.
		if d.doc.sensitive[orig] {
			d.problem(path, n, "invalid %s (value not shown)", v.Type())
			return
		}
		d.problem(path, n, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	d.problem(path, n, "must be %s, got %s", want(v.Type()), d.describe(orig))
}

func stringLike(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.String || t.Kind() == reflect.Interface
}

// want describes what a Go type accepts, in YAML words.
func want(t reflect.Type) string {
	if t == durationType {
		return `a duration such as "30s" or "1m30s"`
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "a " + t.String()
}

// describe names what the node holds; scalars are quoted unless sensitive.
func (d *decoder) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if d.doc.sensitive[n] {
			return "a value that is not shown (secret or from the environment)"
		}
		v := n.Value
		if len(v) > 60 {
			v = v[:57] + "..."
		}
		return strconv.Quote(v)
	}
	return "nothing"
}
