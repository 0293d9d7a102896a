// Command package builds idsync's Debian package: the binary, the systemd
// unit and the annotated example configuration, with nfpm.
//
//	go -C tools/package run .                 # dist/idsync_<version>_<arch>.deb
//	go -C tools/package run . -arch arm64 -version 1.4.0 -o /tmp/out
//
// It is a module of its own (tools/package/go.mod) so that nfpm and what it
// pulls in (go-git, OpenPGP, sprig…) stay out of idsync's go.mod: building
// or installing idsync never downloads them, and idsync's dependency
// graph stays what the daemon runs.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

func main() {
	var o options
	flag.StringVar(&o.out, "o", "", "directory to write the .deb to (default: dist/ in the repository)")
	flag.StringVar(&o.arch, "arch", runtime.GOARCH, "Go architecture to build for (amd64, arm64, …)")
	flag.StringVar(&o.version, "version", "", "package version (default: from `git describe --tags`)")
	flag.Parse()
	path, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

type options struct {
	out, arch, version string
}

// run builds the package and returns its path.
func run(o options) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	src, err := describe(root, o.version)
	if err != nil {
		return "", err
	}
	if o.out == "" {
		o.out = filepath.Join(root, "dist")
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "idsync-package-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "idsync")
	if err := buildBinary(root, bin, o.arch, src); err != nil {
		return "", err
	}
	return writeDeb(root, bin, o.arch, src, o.out)
}
