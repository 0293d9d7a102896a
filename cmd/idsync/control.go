package main

import (
	"context"
	byteorder "encoding/binary" // main_test.go has a var named binary
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	stdsync "sync"
	"syscall"
	"time"
)

// The control socket: while the daemon runs it holds the state's lock, so
// `idsync sync` and `idsync approve` are carried out by the daemon. The CLI
// connects to "<state>.sock" (owner-only), sends its command line, and the
// daemon runs the same command on its own engine and connections (one
// connection's runs never overlap: the engine's per-connection lock),
// streaming the command's stdout and stderr back, then its exit status.
// Closing the connection (Ctrl-C) cancels the run.
//
// Every message is a frame: one byte of kind, four bytes of big-endian
// length, the payload.
const (
	frameArgv   = 'a' // CLI → daemon: the command line, a JSON array of strings
	frameStdout = 'o' // daemon → CLI: bytes the command wrote to stdout
	frameStderr = 'e' // daemon → CLI: bytes the command wrote to stderr
	frameExit   = 'x' // daemon → CLI: the exit status in decimal; the last frame

	maxFrame = 1 << 20
)

// forwardable are the commands the daemon carries out for the CLI: the
// ones that write the state.
var forwardable = map[string]bool{"sync": true, "approve": true}

// errNoDaemon: nothing answers on the control socket.
var errNoDaemon = errors.New("no idsync daemon answers")

func writeFrame(w io.Writer, kind byte, p []byte) error {
	hdr := [5]byte{kind}
	byteorder.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := byteorder.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("control frame of %d bytes (at most %d)", n, maxFrame)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return hdr[0], p, err
}

// frames writes frames to one connection from several writers.
type frames struct {
	mu stdsync.Mutex
	w  io.Writer
}

func (f *frames) write(kind byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return writeFrame(f.w, kind, p)
}

// stream is an io.Writer sending its bytes as frames of one kind.
type stream struct {
	f    *frames
	kind byte
}

func (s stream) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		n := min(len(p)-done, maxFrame)
		if err := s.f.write(s.kind, p[done:done+n]); err != nil {
			return done, err
		}
		done += n
	}
	return len(p), nil
}

// forward sends g.argv to the daemon on the control socket at path, copies
// what the command writes to g's streams and returns its exit status. The
// error wraps errNoDaemon when nothing answers on the socket (the command
// was not sent).
func forward(ctx context.Context, path string, g *globals) (int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	switch {
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED):
		return 0, fmt.Errorf("%w on %s: %w", errNoDaemon, path, err)
	case errors.Is(err, os.ErrPermission):
		return 0, fmt.Errorf("the daemon's control socket %s is owner-only: run this as the daemon's user (or root): %w", path, err)
	case err != nil:
		return 0, fmt.Errorf("reach the daemon on its control socket %s: %w", path, err)
	}
	defer conn.Close()
	// Ctrl-C closes the connection; the daemon then cancels the run.
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	argv, err := json.Marshal(g.argv)
	if err != nil {
		return 0, err
	}
	if err := writeFrame(conn, frameArgv, argv); err != nil {
		return 0, fmt.Errorf("send the command to the daemon on %s: %w", path, err)
	}
	for {
		kind, p, err := readFrame(conn)
		switch {
		case err != nil && ctx.Err() != nil:
			return 0, fmt.Errorf("interrupted: the daemon stops the run after the ops in flight ('idsync status' shows how it ended): %w", ctx.Err())
		case err != nil:
			return 0, fmt.Errorf("the daemon stopped answering before the command ended ('idsync status' and 'idsync log' show what was done): %w", err)
		}
		switch kind {
		case frameStdout:
			g.stdout.Write(p)
		case frameStderr:
			g.stderr.Write(p)
		case frameExit:
			code, err := strconv.Atoi(string(p))
			if err != nil {
				return 0, fmt.Errorf("the daemon sent exit status %q", p)
			}
			return code, nil
		default:
			return 0, fmt.Errorf("the daemon sent a control frame of unknown kind %q", kind)
		}
	}
}

// controlServer is the daemon's side of the control socket.
type controlServer struct {
	ctx  context.Context // the daemon's: cancelled when it stops
	ln   *net.UnixListener
	log  *slog.Logger
	app  func() *app // the daemon's current app (a reload replaces it)
	runs stdsync.WaitGroup
	once stdsync.Once
}

// listenControl listens on the control socket at path. The caller holds the
// state's lock, so a socket file already there was left by a daemon that
// died: it is replaced.
func listenControl(ctx context.Context, path string, log *slog.Logger, current func() *app) (*controlServer, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: remove the one a stopped daemon left: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Owner only. A peer that connected before the chmod is still checked
	// (checkPeer) where the system can tell who it is.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &controlServer{ctx: ctx, ln: ln, log: log, app: current}
	s.runs.Go(s.serve)
	return s, nil
}

// close stops accepting, removes the socket file and waits for the
// commands being carried out (the daemon's context, when cancelled, stops
// them after their ops in flight). A CLI that comes later finds no socket
// and waits for the lock. It may be called more than once.
func (s *controlServer) close() {
	s.once.Do(func() {
		s.ln.Close()
		s.runs.Wait()
	})
}

func (s *controlServer) serve() {
	for {
		conn, err := s.ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			s.log.Error("control socket: accept", "error", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		s.runs.Go(func() { s.handle(conn) })
	}
}

// handle carries out one command.
func (s *controlServer) handle(conn *net.UnixConn) {
	defer conn.Close()
	pid, err := checkPeer(conn)
	if err != nil {
		s.log.Warn("control socket: refused a connection", "error", err)
		return
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	kind, p, err := readFrame(conn)
	conn.SetReadDeadline(time.Time{})
	var argv []string
	if err == nil && kind != frameArgv {
		err = fmt.Errorf("first frame of kind %q, want the command line", kind)
	}
	if err == nil {
		err = json.Unmarshal(p, &argv)
	}
	if err != nil {
		s.log.Warn("control socket: unreadable request", "pid", pid, "error", err)
		return
	}
	out := &frames{w: conn}
	code := s.run(conn, out, argv, pid)
	out.write(frameExit, []byte(strconv.Itoa(code)))
}

// run runs argv as the daemon and returns its exit status.
func (s *controlServer) run(conn net.Conn, out *frames, argv []string, pid int) int {
	stderr := stream{out, frameStderr}
	cmd, _, err := rootCmd(&globals{stdout: io.Discard, stderr: io.Discard}).Find(argv)
	if err != nil || cmd.Parent() == nil || !forwardable[cmd.Name()] {
		fmt.Fprintf(stderr, "idsync: the daemon carries out only sync and approve, not %q\n", commandLine(argv))
		return exitError
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	// The client sends nothing more: a read returns when it goes away
	// (Ctrl-C, killed), and the run is cancelled.
	go func() {
		var b [1]byte
		conn.Read(b[:])
		cancel()
	}()
	line := commandLine(argv)
	s.log.Info("carrying out a command sent to the control socket", "command", line, "pid", pid)
	code := s.execute(ctx, &globals{stdout: stream{out, frameStdout}, stderr: stderr, argv: argv, daemon: s.app()}, line)
	s.log.Info("command done", "command", line, "pid", pid, "exit", code)
	return code
}

// execute runs a command for the CLI. A panic in it fails the command
// (exit 1, "panic: ..." on the CLI's stderr, the stack in the debug log),
// not the daemon, which goes on with its schedule.
func (s *controlServer) execute(ctx context.Context, g *globals, line string) (code int) {
	defer func() {
		if v := recover(); v != nil {
			msg := fmt.Sprint(v)
			s.log.Error("recovered from a panic in a command sent to the control socket", "command", line, "panic", msg)
			s.log.Debug("panic stack", "command", line, "stack", string(debug.Stack()))
			fmt.Fprintf(g.stderr, "idsync: panic: %s (the daemon recovered and goes on; its log has the details)\n", msg)
			code = exitError
		}
	}()
	return execute(ctx, g)
}
