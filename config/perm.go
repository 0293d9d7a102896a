package config

import (
	"fmt"
	"os"
	"runtime"

	"go.yaml.in/yaml/v3"
)

// readableByOthers reports the permission bits of file when users other
// than its owner and its group may read it. Group read (0640) is the
// advised setting for a group only idsync's user is in, so it is not
// warned about. Windows has no such bits: nothing is reported there.
func readableByOthers(file string) (os.FileMode, bool) {
	if runtime.GOOS == "windows" {
		return 0, false
	}
	fi, err := os.Stat(file) // through symlinks: mounted secrets are often links
	if err != nil {
		return 0, false // reading it reports the problem
	}
	perm := fi.Mode().Perm()
	return perm, perm&0o004 != 0
}

// warnIfReadable warns when file, which holds a secret or a private key,
// can be read by other users. It is not an error: some platforms mount
// secrets 0644 and the operator may not be able to change that.
func (p *parser) warnIfReadable(path string, n *yaml.Node, file string) {
	perm, ok := readableByOthers(file)
	if !ok {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	name := file
	if n != nil && p.doc.sensitive[n] {
		name = "the file (its path came from the environment and is not shown)"
	}
	p.warnings = append(p.warnings, Problem{File: p.doc.file, Path: path, Line: line,
		Msg: fmt.Sprintf("%s holds a secret or a private key and other users can read it (mode %04o): chmod 600 it, or 640 with a group only idsync's user is in", name, perm)})
}

// warnIfConfigReadable warns when the configuration file at path holds a
// secret itself and other users can read it.
func warnIfConfigReadable(cfg *Config, path string) {
	if cfg.inlineSecret == "" {
		return
	}
	perm, ok := readableByOthers(path)
	if !ok {
		return
	}
	cfg.Warnings = append(cfg.Warnings, Problem{File: path, Path: cfg.inlineSecret,
		Msg: fmt.Sprintf("this file holds a secret and other users can read it (mode %04o): chmod 600 it, or give the secret as ${NAME} or %s_file", perm, lastKey(cfg.inlineSecret))})
}

// lastKey is the last key of a field path: "token" of "connections[0].target.token".
func lastKey(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[i+1:]
		}
	}
	return path
}
