package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/state"
)

// configFile says which configuration a process runs: the file it loaded
// and a digest of the bytes it loaded. The CLI sends its own with a command
// it forwards to the daemon, and the daemon refuses the command when its
// configuration is another one (refusal): otherwise an edited file, or
// another --config, would be silently ignored, the command run on what the
// daemon loaded at its start or last reload.
type configFile struct {
	Path   string    `json:"path"`   // absolute, symlinks resolved
	SHA256 string    `json:"sha256"` // hex, of the bytes parsed
	Loaded time.Time `json:"-"`      // when (shown by the daemon)
}

// loadConfigFile is loadConfig that also says what it loaded. The file is
// read around the parse: a file that changed in between is parsed again,
// so the digest is of the bytes the configuration came from.
func loadConfigFile(path string) (*config.Config, configFile, error) {
	for range 3 {
		before, err := digestFile(path)
		cfg, lerr := loadConfig(path)
		if lerr != nil {
			return nil, configFile{}, lerr
		}
		if err != nil {
			return nil, configFile{}, fmt.Errorf("config: %w", err)
		}
		if after, err := digestFile(path); err == nil && after == before {
			return cfg, configFile{Path: state.RealPath(path), SHA256: before, Loaded: time.Now()}, nil
		}
	}
	return nil, configFile{}, fmt.Errorf("config: %s changed while it was read, three times; try again once it is written", path)
}

func digestFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// refusal is why the daemon, running on d, does not carry out a command
// whose CLI loaded cli; "" when they are the same configuration (the same
// bytes: a copy of the daemon's file at another path is the same
// configuration). A command without cli (a client that does not send it)
// is not refused; see controlServer.run.
func (d configFile) refusal(cli configFile, pid int) string {
	if cli.SHA256 == d.SHA256 {
		return ""
	}
	loaded := fmt.Sprintf("the daemon (pid %d) runs the configuration it loaded from %s at %s", pid, d.Path, d.Loaded.Local().Format(time.DateTime))
	if cli.Path == d.Path {
		return fmt.Sprintf("idsync: not carried out: %s, and that file has changed since; the command would not run on the configuration you see.\n"+
			"Reload the daemon (systemctl reload idsync, or kill -HUP %d), then run the command again; or stop the daemon and run it here.\n", loaded, pid)
	}
	return fmt.Sprintf("idsync: not carried out: %s; this command loaded another configuration, %s, and would not run on it.\n"+
		"Run it with --config %s (reload the daemon first if you edited that file: systemctl reload idsync, or kill -HUP %d); or stop the daemon and run it here.\n",
		loaded, cli.Path, d.Path, pid)
}
