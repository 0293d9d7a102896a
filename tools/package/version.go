package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// source is what the package is built from.
type source struct {
	version  string    // what `idsync version` prints: the tag, or git describe's answer
	deb      string    // the Debian version: starts with a digit, sorts like the tags
	commit   string    // full commit hash ("" outside git)
	time     time.Time // commit time: the files' mtime, for a reproducible package
	modified bool      // uncommitted changes in the tree
}

// repoRoot finds idsync's module root above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/idsync/idsync\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the idsync repository: run it as `go -C tools/package run .` from a clone")
		}
		dir = parent
	}
}

var describeRE = regexp.MustCompile(`^v?(\d+\.\d+\.\d+(?:[-.~][0-9A-Za-z.]+)?)(?:-(\d+)-g([0-9a-f]+))?$`)

// describe reads the version from git (or takes the one given) and the
// commit it is built from.
func describe(root, given string) (source, error) {
	var s source
	if out, err := git(root, "rev-parse", "HEAD"); err == nil {
		s.commit = out
		if t, err := git(root, "log", "-1", "--format=%cI"); err == nil {
			s.time, _ = time.Parse(time.RFC3339, t)
		}
		st, _ := git(root, "status", "--porcelain", "--untracked-files=no")
		s.modified = st != ""
	}
	if s.time.IsZero() {
		s.time = time.Unix(0, 0).UTC()
	}
	if given != "" {
		s.version = given
		s.deb = strings.TrimPrefix(given, "v")
		if s.deb == "" || s.deb[0] < '0' || s.deb[0] > '9' {
			return s, fmt.Errorf("-version %q: a Debian version starts with a digit", given)
		}
		return s, nil
	}
	if s.commit == "" {
		return s, errors.New("no git checkout to take the version from: pass -version")
	}
	d, _ := git(root, "describe", "--tags", "--match", "v[0-9]*")
	s.version, s.deb = debVersion(d, s.commit, s.time, s.modified)
	return s, nil
}

// debVersion turns git describe's answer into idsync's version and a
// Debian version that sorts the same way: v1.2.3 → 1.2.3;
// v1.2.3-4-gabc1234 → 1.2.3+4.gabc1234; v1.3.0-rc1 → 1.3.0~rc1; no tag → 0.0.0+git<commit
// time>.<hash>; a modified tree adds "+dirty"/".dirty".
func debVersion(described, commit string, at time.Time, modified bool) (version, deb string) {
	short := commit[:min(12, len(commit))]
	if m := describeRE.FindStringSubmatch(described); m != nil {
		// A pre-release (v1.2.3-rc1) sorts before its release with ~.
		version, deb = described, strings.ReplaceAll(m[1], "-", "~")
		if m[2] != "" {
			deb += "+" + m[2] + ".g" + m[3]
		}
	} else {
		version = "v0.0.0-" + at.UTC().Format("20060102150405") + "-" + short
		deb = "0.0.0+git" + at.UTC().Format("20060102150405") + "." + short
	}
	if modified {
		version += "-dirty"
		if strings.Contains(deb, "+") {
			deb += ".dirty"
		} else {
			deb += "+dirty"
		}
	}
	return version, deb
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// buildBinary builds a static linux idsync for arch into bin, with the
// version and commit stamped (Go stamps VCS information itself only in a
// plain clone, not in a git worktree or with -buildvcs=false).
func buildBinary(root, bin, arch string, s source) error {
	ld := []string{"-s", "-w", "-X", "main.version=" + s.version}
	if s.commit != "" {
		ld = append(ld, "-X", "main.commit="+s.commit, "-X", "main.commitTime="+s.time.UTC().Format(time.RFC3339))
		if s.modified {
			ld = append(ld, "-X", "main.commitModified=true")
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", strings.Join(ld, " "), "-o", bin, "./cmd/idsync")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}
