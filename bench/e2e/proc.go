package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// child is a running helper process of the benchmark (emulator,
// workspace): commands go to its stdin, one answer line comes back each.
type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	done chan error
}

// startChild runs this program again as mode and returns it with the first
// line it printed (its address).
func startChild(ctx context.Context, self, mode string, a childArgs) (*child, string, error) {
	args, _ := json.Marshal(a)
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, argsEnv+"="+string(args))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", mode, err)
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewReader(outPipe), done: make(chan error, 1)}
	first, err := c.out.ReadString('\n')
	if err != nil {
		c.stop()
		return nil, "", fmt.Errorf("%s did not start: %w", mode, err)
	}
	return c, strings.TrimSpace(first), nil
}

// ask sends one command and returns the answer line.
func (c *child) ask(cmd string) (string, error) {
	if _, err := fmt.Fprintln(c.in, cmd); err != nil {
		return "", err
	}
	line, err := c.out.ReadString('\n')
	return strings.TrimSpace(line), err
}

// stop closes the child's input (it exits when it sees that) and waits.
func (c *child) stop() {
	c.in.Close()
	wait := make(chan error, 1)
	go func() { wait <- c.cmd.Wait() }()
	select {
	case <-wait:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-wait
	}
}

// measured is one process's cost.
type measured struct {
	Wall     time.Duration `json:"wall_ns"`
	PeakRSS  float64       `json:"peak_rss_mb"` // getrusage ru_maxrss of the process
	Requests int           `json:"requests"`    // API requests the IdP emulator answered meanwhile
	Bytes    int64         `json:"output_bytes,omitempty"`
}

// runMeasured runs cmd to completion, stdout to outFile ("" discards it),
// and measures its wall time (start to exit) and peak RSS.
func runMeasured(cmd *exec.Cmd, outFile string) (measured, error) {
	var m measured
	var out *os.File
	if outFile != "" {
		f, err := os.Create(outFile)
		if err != nil {
			return m, err
		}
		defer f.Close()
		out = f
		cmd.Stdout = f
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	err := cmd.Run()
	m.Wall = time.Since(t0)
	if cmd.ProcessState != nil {
		m.PeakRSS = maxRSSMB(cmd.ProcessState)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 { // --detailed-exitcode: changes
		err = nil
	}
	if err != nil {
		return m, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(stderr.String()))
	}
	if out != nil {
		if fi, err := out.Stat(); err == nil {
			m.Bytes = fi.Size()
		}
	}
	return m, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}
