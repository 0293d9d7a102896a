package config

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// LoadForReading is Load for the commands that only read the state
// (status, log, explain, the held plan approve shows): they need the state
// path, the connections' names and policies, never a secret. So a
// <secret>_file is not read (it may be readable by the daemon's user only,
// or gone with a demo's emulators) and a secret's unset ${NAME} is not an
// error: both leave the secret empty. Everything else is checked as Load
// checks it. The Config must not be used to open a backend.
func LoadForReading(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseForReading(path, data, os.LookupEnv)
}

// ParseForReading is Parse in LoadForReading's mode.
func ParseForReading(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	return parse(name, data, env, true)
}

// unreadSecret rewrites the `<base>_file: PATH` at n.Content[i] to an
// empty `<base>` without reading the file.
func (p *parser) unreadSecret(n *yaml.Node, i int, base string) {
	k, v := n.Content[i], n.Content[i+1]
	n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: base, Line: k.Line, Column: k.Column}
	p.doc.renamed[n.Content[i]] = k.Value
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "", Line: v.Line, Column: v.Column}
	p.doc.sensitive[val] = true
	n.Content[i+1] = val
}
