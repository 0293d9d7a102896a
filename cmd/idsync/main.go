// Command idsync keeps a workspace's users, roles and groups in step with an
// identity provider. See `idsync --help` and the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
)

// Exit codes (see `idsync sync --help`).
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2 // --detailed-exitcode: changes planned or applied
	exitHeld    = 3 // --detailed-exitcode: a plan was held by safety limits
)

// exitCode carries a specific exit status out of a command.
type exitCode struct {
	code int
	err  error // printed if non-nil
}

func (e *exitCode) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// globals are the flags and streams every subcommand shares.
type globals struct {
	config  string
	verbose bool
	stdout  io.Writer
	stderr  io.Writer
	// argv is the command line as given (without the program name): what
	// openWriter sends to the daemon to carry out.
	argv []string
	// daemon is set when the daemon runs a command sent to its control
	// socket: the daemon's app, which openWriter returns.
	daemon *app
	// progress is the command's progress display (progress.go), which a
	// command forwarded to the daemon feeds from its progress frames; nil
	// for none. remote, in the daemon, sends a forwarded command's
	// progress to its CLI, when the CLI asked for it.
	progress progressSink
	remote   progressSink
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfiles := startProfiles()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfiles()
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, &globals{stdout: stdout, stderr: stderr, argv: args})
}

// execute runs the command line g.argv with g's streams and returns the
// exit status. The daemon runs commands sent to its control socket here.
func execute(ctx context.Context, g *globals) int {
	root := rootCmd(g)
	root.SetArgs(g.argv)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		if ec.err != nil {
			printError(g.stderr, ec.err)
		}
		return ec.code
	}
	printError(g.stderr, err)
	return exitError
}

// rootCmd is the idsync command tree on g.
func rootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "idsync",
		Short: "Keep a workspace's users, roles and groups in step with Entra ID or Okta",
		Long: `idsync pulls users and groups from Microsoft Entra ID or Okta on a schedule, keeps the
last-known directory in a local SQLite snapshot, and applies creates, updates, role
changes, disables and deletes to a workspace through SCIM 2.0 or a signed webhook.

Start with 'idsync demo' (no credentials needed), then write idsync.yaml
('idsync config example'), check it ('idsync config check') and preview a sync
('idsync sync --dry-run').`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.PersistentFlags().StringVarP(&g.config, "config", "c", "", "configuration file (default $IDSYNC_CONFIG, else ./idsync.yaml)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log at debug level")
	root.AddCommand(syncCmd(g), runCmd(g), statusCmd(g), logCmd(g), approveCmd(g), explainCmd(g),
		configCmd(g), versionCmd(g), demoCmd(g), notifyCmd(g), tokenCmd(g))
	return root
}

func printError(w io.Writer, err error) {
	var ps config.Problems
	if errors.As(err, &ps) {
		fmt.Fprintf(w, "idsync: the configuration has %d problem(s):\n", len(ps))
		for _, p := range ps {
			fmt.Fprintf(w, "  %s\n", p)
		}
		return
	}
	fmt.Fprintf(w, "idsync: %v\n", err)
}
