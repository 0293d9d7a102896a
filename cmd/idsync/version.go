package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X main.version=v1.2.3 -X main.commit=…"
// (tools/package does): version overrides the module version; commit,
// commitTime and commitModified stand in for the VCS information Go stamps
// itself, which a build in a git worktree or with -buildvcs=false lacks.
var (
	version        = ""
	commit         = ""
	commitTime     = ""
	commitModified = ""
)

// buildVersion is what `idsync version` prints, from the build info Go
// stamps into the binary: the module version (a tag for `go install
// …@v1.2.3`, "(devel)" for a build in a clone), and the VCS commit, its
// time and whether the tree had uncommitted changes (builds in a clone,
// unless -buildvcs=false).
type buildVersion struct {
	Version  string
	Commit   string
	Time     string
	Modified bool
	Go       string
}

func readBuildVersion() buildVersion {
	v := buildVersion{Version: version, Go: runtime.Version(), Commit: commit, Time: commitTime, Modified: commitModified == "true"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if v.Version == "" {
			v.Version = "(unknown)"
		}
		return v
	}
	if v.Version == "" {
		v.Version = info.Main.Version
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	v.Go = info.GoVersion
	for _, s := range info.Settings {
		if commit != "" {
			break // stamped by the packager
		}
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is one line per fact: "idsync VERSION", then the commit (when
// stamped) and the Go version and platform.
func (v buildVersion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "idsync %s\n", v.Version)
	if v.Commit != "" {
		fmt.Fprintf(&b, "commit %s", v.Commit)
		var notes []string
		if v.Time != "" {
			notes = append(notes, v.Time)
		}
		if v.Modified {
			notes = append(notes, "modified")
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
		}
		b.WriteByte('\n')
	} else {
		b.WriteString("commit unknown (built without VCS information)\n")
	}
	fmt.Fprintf(&b, "%s %s/%s", v.Go, runtime.GOOS, runtime.GOARCH)
	return b.String()
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, args []string) { fmt.Fprintln(g.stdout, readBuildVersion()) },
	}
}
