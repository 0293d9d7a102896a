package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Maintainer scripts. The package installs the unit but neither enables
// nor starts it: the example configuration must be edited first. An
// upgrade restarts a running service; removal stops it.
const (
	postInstall = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	if [ "$1" = configure ] && [ -n "$2" ] && systemctl is-active --quiet idsync.service; then
		systemctl restart idsync.service || true
	fi
fi
`
	preRemove = `#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl stop idsync.service || true
fi
`
	postRemove = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
`
)

// writeDeb writes the .deb into dir and returns its path.
func writeDeb(root, bin, arch string, s source, dir string) (string, error) {
	tmp := filepath.Dir(bin)
	scripts := map[string]string{"postinst": postInstall, "prerm": preRemove, "postrm": postRemove}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(body), 0o755); err != nil {
			return "", err
		}
	}
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: s.time}}
	}
	conf := file(filepath.Join(root, "config", "example.yaml"), "/etc/idsync/idsync.yaml", 0o644)
	// A conffile: dpkg never overwrites the operator's edits on upgrade
	// (noreplace is RPM's word for the same; deb conffiles behave so).
	conf.Type = files.TypeConfigNoReplace
	creds := &files.Content{Destination: "/etc/idsync/credentials", Type: files.TypeDir,
		FileInfo: &files.ContentFileInfo{Mode: 0o700, MTime: s.time}}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          "idsync",
		Arch:          arch,
		Platform:      "linux",
		Version:       s.deb,
		VersionSchema: "none",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    "idsync maintainers <idsync@users.noreply.github.com>",
		Homepage:      "https://github.com/idsync/idsync",
		Description: "directory sync daemon: Entra ID and Okta users to SaaS workspaces\n" +
			"idsync pulls users and groups from Microsoft Entra ID or Okta on a schedule\n" +
			"and applies a reviewable plan to a workspace through SCIM 2.0 or a signed\n" +
			"webhook, holding mass deletions for approval. Runs as a systemd service.",
		MTime: s.time,
		Overridables: nfpm.Overridables{
			Contents: files.Contents{
				file(bin, "/usr/bin/idsync", 0o755),
				file(filepath.Join(root, "deploy", "idsync.service"), "/lib/systemd/system/idsync.service", 0o644),
				conf,
				creds,
				file(filepath.Join(root, "README.md"), "/usr/share/doc/idsync/README.md", 0o644),
			},
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(tmp, "postinst"),
				PreRemove:   filepath.Join(tmp, "prerm"),
				PostRemove:  filepath.Join(tmp, "postrm"),
			},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("nfpm: %w", err)
	}
	path := filepath.Join(dir, deb.Default.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("nfpm: %w", err)
	}
	return path, f.Close()
}
