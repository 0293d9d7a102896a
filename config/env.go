package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// expandEnv replaces ${NAME} and ${NAME:-default} in every scalar value of
// the tree (keys are left alone) and turns $$ into $. A bare $ not followed
// by { or $ stays as it is, so values like bcrypt hashes need no escaping.
func (p *parser) expandEnv(path string, n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			p.expandEnv(path, c)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p.expandEnv(joinIndex(path, i), c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p.expandEnv(joinKey(path, n.Content[i].Value), n.Content[i+1])
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		out, fromEnv, errs := expand(n.Value, p.env)
		if len(errs) > 0 && p.readOnly && isSecretKey(lastKey(path)) {
			n.Value = "" // not needed to read the state (ParseForReading)
			p.doc.sensitive[n] = true
			return
		}
		for _, e := range errs {
			p.problem(path, n, "%s", e)
		}
		if len(errs) > 0 {
			return
		}
		n.Value = out
		if fromEnv {
			p.doc.sensitive[n] = true
			p.doc.expanded[n] = true
		}
	}
}

// expand expands one value. fromEnv reports whether any variable (or
// default) was substituted; errs are messages for the operator.
func expand(s string, env func(string) (string, bool)) (out string, fromEnv bool, errs []string) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), fromEnv, errs
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
			continue
		case '{':
		default:
			b.WriteByte('$')
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			errs = append(errs, "unterminated ${ (write $$ for a literal $)")
			return "", fromEnv, errs
		}
		inner := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !validEnvName(name) {
			errs = append(errs, fmt.Sprintf("bad environment variable name %q in ${...}", name))
			continue
		}
		fromEnv = true
		val, ok := env(name)
		switch {
		case ok && (val != "" || !hasDef):
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		case name == "CREDENTIALS_DIRECTORY":
			// Set by systemd for a service with LoadCredential= only.
			errs = append(errs, "environment variable CREDENTIALS_DIRECTORY is not set: systemd sets it for the idsync service "+
				"(LoadCredential=); by hand, run as root with CREDENTIALS_DIRECTORY=/run/credentials/idsync.service while the service runs")
		default:
			errs = append(errs, fmt.Sprintf("environment variable %s is not set", name))
		}
	}
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
