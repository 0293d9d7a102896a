package config

import (
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secretKeys may each also be given as <key>_file: PATH, anywhere in a
// backend block. Other *_file keys (ca_file, private_key_file,
// certificate_file, ...) are paths the backend opens itself.
var secretKeys = []string{"client_secret", "token", "secret", "certificate_password"}

// publicFiles are the *_file keys of backend blocks that hold nothing
// secret; every other one (private_key_file, certificate_file, ...) holds a
// key, and a warning says so when other users can read it.
var publicFiles = map[string]bool{"ca_file": true}

func isSecretKey(k string) bool {
	for _, s := range secretKeys {
		if k == s {
			return true
		}
	}
	return false
}

// resolveSecrets rewrites every `<secret>_file: PATH` in a backend block to
// `<secret>: contents` so backends only know the plain key, marks secret
// values sensitive, and resolves other relative *_file paths against the
// config file's directory.
func (p *parser) resolveSecrets(path string, n *yaml.Node, seen map[*yaml.Node]bool) {
	n = resolveAlias(n)
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p.resolveSecrets(joinIndex(path, i), c, seen)
		}
		return
	case yaml.MappingNode:
	default:
		return
	}
	has := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		has[n.Content[i].Value] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kpath := joinKey(path, k.Value)
		if isSecretKey(k.Value) {
			p.markSensitive(v)
			if sv := resolveAlias(v); p.inlineSecret == "" && sv != nil && sv.Kind == yaml.ScalarNode && sv.Value != "" && !p.doc.expanded[sv] {
				p.inlineSecret = kpath
			}
			continue
		}
		base, isFile := strings.CutSuffix(k.Value, "_file")
		if !isFile {
			p.resolveSecrets(kpath, v, seen)
			continue
		}
		v = resolveAlias(v)
		if !isSecretKey(base) {
			if v.Kind == yaml.ScalarNode && v.Value != "" && !isNull(v) && !filepath.IsAbs(v.Value) {
				n.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: filepath.Join(p.doc.dir, v.Value), Line: v.Line, Column: v.Column}
			}
			if v.Kind == yaml.ScalarNode && v.Value != "" && !isNull(v) && !publicFiles[k.Value] {
				p.warnIfReadable(kpath, v, n.Content[i+1].Value) // a private key or certificate with its key
			}
			continue
		}
		if v.Kind != yaml.ScalarNode || isNull(v) || v.Value == "" {
			p.problem(kpath, v, "must be a file path, got %s", p.describe(v))
			continue
		}
		file := v.Value
		if !filepath.IsAbs(file) {
			file = filepath.Join(p.doc.dir, file)
		}
		if has[base] {
			p.problem(kpath, k, "set either %s or %s, not both", base, k.Value)
			continue
		}
		if p.readOnly {
			p.unreadSecret(n, i, base)
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			// The *PathError names the file, never its contents; but the
			// path may have come from the environment (often the token
			// itself, put where its file belongs): scrub it.
			p.problem(kpath, v, "%s", p.doc.scrub(err.Error()))
			continue
		}
		p.warnIfReadable(kpath, v, file)
		secret := string(data)
		if s, ok := strings.CutSuffix(secret, "\n"); ok {
			secret = strings.TrimSuffix(s, "\r")
		}
		n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: base, Line: k.Line, Column: k.Column}
		p.doc.renamed[n.Content[i]] = k.Value
		val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: secret, Line: v.Line, Column: v.Column}
		p.doc.sensitive[val] = true
		n.Content[i+1] = val
	}
}

func (p *parser) markSensitive(n *yaml.Node) {
	n = resolveAlias(n)
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		p.doc.sensitive[n] = true
	}
	for _, c := range n.Content {
		p.markSensitive(c)
	}
}
