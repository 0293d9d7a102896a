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
	"strings"
	stdsync "sync"
	"syscall"
	"time"

	"github.com/idsync/idsync/sync"
)

// The control socket: while the daemon runs it holds the state's lock, so
// `idsync sync` and `idsync approve` are carried out by the daemon. The CLI
// connects to "<state>.sock" (owner-only; controlPath), sends the
// configuration it loaded and its command line, and the daemon runs the same
// command on its own engine and connections (one connection's runs never
// overlap: the engine's per-connection lock), streaming the command's stdout
// and stderr back, then its exit status. A command whose configuration is
// not the daemon's is refused (configFile.refusal). Closing the connection
// (Ctrl-C) cancels the run.
//
// Every message is a frame: one byte of kind, four bytes of big-endian
// length, the payload.
const (
	frameConfig = 'c' // CLI → daemon, before the command line: the configFile it loaded, JSON
	frameArgv   = 'a' // CLI → daemon: the command line, a JSON array of strings
	frameStdout = 'o' // daemon → CLI: bytes the command wrote to stdout
	frameStderr = 'e' // daemon → CLI: bytes the command wrote to stderr
	frameExit   = 'x' // daemon → CLI: the exit status in decimal; the last frame

	maxFrame = 1 << 20
)

// The daemon writes to a CLI with a deadline: a CLI that takes none of its
// output for writeTimeout (stopped with Ctrl-Z, frozen, its terminal gone)
// gets no more of it; the command runs on to its end, as it would have
// without anyone watching. The CLI reads as fast as the daemon writes
// (forward queues what its own stdout has not taken yet), so a pager does
// not count as a client that does not read. When the daemon stops, a CLI
// gets stopWriteTimeout to take each frame: the daemon does not wait
// longer for it.
const (
	writeTimeout     = 30 * time.Second
	stopWriteTimeout = 2 * time.Second
)

// forwardable are the commands the daemon carries out for the CLI: the
// ones that write the state.
var forwardable = map[string]bool{"sync": true, "approve": true, "notify off": true, "notify on": true, "notify register": true, "token create": true, "token revoke": true}

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

// frames writes frames to one connection from several writers, each with
// a deadline. The first failed write ends them all: the stream is cut
// mid-frame, and the CLI is gone or does not read.
type frames struct {
	mu   stdsync.Mutex
	conn net.Conn
	stop <-chan struct{} // closed when the daemon stops
	err  error
}

func (f *frames) write(kind byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	// After the deadline is set: controlServer.close closes stop, then
	// shortens every connection's deadline, so one of the two is seen.
	select {
	case <-f.stop:
		f.conn.SetWriteDeadline(time.Now().Add(stopWriteTimeout))
	default:
	}
	f.err = writeFrame(f.conn, kind, p)
	return f.err
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

// forward sends cfg (the configuration this process loaded; nil: none) and
// g.argv to the daemon on the control socket at path, copies what the
// command writes to g's streams and returns its exit status. The error
// wraps errNoDaemon when nothing answers on the socket (the command was not
// sent).
func forward(ctx context.Context, path string, g *globals, cfg *configFile) (int, error) {
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
	if cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			return 0, err
		}
		if err := writeFrame(conn, frameConfig, b); err != nil {
			return 0, fmt.Errorf("send the command to the daemon on %s: %w", path, err)
		}
	}
	if g.progress != nil {
		if err := writeFrame(conn, frameWantProgress, nil); err != nil {
			return 0, fmt.Errorf("send the command to the daemon on %s: %w", path, err)
		}
	}
	argv, err := json.Marshal(g.argv)
	if err != nil {
		return 0, err
	}
	if err := writeFrame(conn, frameArgv, argv); err != nil {
		return 0, fmt.Errorf("send the command to the daemon on %s: %w", path, err)
	}
	in := readFrames(conn)
	for {
		kind, p, err := in.next()
		switch {
		case err != nil && ctx.Err() != nil:
			return 0, fmt.Errorf("interrupted: the daemon stops the run after the ops in flight ('idsync status' shows how it ended): %w", ctx.Err())
		case err != nil:
			return 0, fmt.Errorf("the daemon stopped answering before the command ended ('idsync status' and 'idsync log' show what was done): %w", err)
		}
		if g.progress != nil && (kind == frameStdout || kind == frameStderr) {
			g.progress.clear()
		}
		switch kind {
		case frameProgress:
			var pr sync.Progress
			if g.progress != nil && json.Unmarshal(p, &pr) == nil {
				g.progress.report(pr)
			}
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

// inbox holds the frames read from the daemon until forward copies them
// out: the CLI keeps reading while its stdout is slow (a pager), so the
// daemon's write deadline only catches a CLI that is not running.
type inbox struct {
	mu     stdsync.Mutex
	frames []inFrame
	ready  chan struct{}
}

type inFrame struct {
	kind byte
	p    []byte
	err  error // the last one: the connection's end
}

// readFrames reads conn to its end (or close) on its own goroutine.
func readFrames(conn net.Conn) *inbox {
	in := &inbox{ready: make(chan struct{}, 1)}
	go func() {
		for {
			kind, p, err := readFrame(conn)
			in.mu.Lock()
			in.frames = append(in.frames, inFrame{kind, p, err})
			in.mu.Unlock()
			select {
			case in.ready <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return in
}

// next returns the next frame, waiting for it; after the connection's end
// it returns that error again.
func (in *inbox) next() (byte, []byte, error) {
	for {
		in.mu.Lock()
		if len(in.frames) > 0 {
			f := in.frames[0]
			if f.err == nil {
				in.frames = in.frames[1:]
			}
			in.mu.Unlock()
			return f.kind, f.p, f.err
		}
		in.mu.Unlock()
		<-in.ready
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
	stop chan struct{} // closed by close

	mu    stdsync.Mutex
	conns map[net.Conn]bool // accepted, not yet done
}

// listenControl listens on the control socket at path. The caller holds the
// state's lock, so a socket file already there was left by a daemon that
// died: it is replaced.
func listenControl(ctx context.Context, path string, log *slog.Logger, current func() *app) (*controlServer, error) {
	if err := checkControlPath(path); err != nil {
		return nil, err
	}
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
	s := &controlServer{ctx: ctx, ln: ln, log: log, app: current, stop: make(chan struct{}), conns: map[net.Conn]bool{}}
	s.runs.Go(s.serve)
	return s, nil
}

// close stops accepting, removes the socket file and waits for the
// commands being carried out (the daemon's context, when cancelled, stops
// them after their ops in flight). Their CLIs get stopWriteTimeout per
// frame from now on: one that does not read cannot hold the daemon (and
// the state's lock) past its stop. A CLI that comes later finds no socket
// and waits for the lock. It may be called more than once.
func (s *controlServer) close() {
	s.once.Do(func() {
		s.ln.Close()
		close(s.stop)
		s.mu.Lock()
		for conn := range s.conns {
			conn.SetWriteDeadline(time.Now().Add(stopWriteTimeout))
		}
		s.mu.Unlock()
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
		s.mu.Lock()
		s.conns[conn] = true
		s.mu.Unlock()
		s.runs.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
			}()
			s.handle(conn)
		})
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
	argv, cfg, wantProgress, err := readRequest(conn)
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		s.log.Warn("control socket: unreadable request", "pid", pid, "error", err)
		return
	}
	out := &frames{conn: conn, stop: s.stop}
	var remote *remoteProgress
	if wantProgress {
		remote = newRemoteProgress(out.write)
	}
	code := s.run(conn, out, argv, cfg, pid, remote)
	if remote != nil {
		remote.close()
	}
	if err := out.write(frameExit, []byte(strconv.Itoa(code))); err != nil {
		s.log.Info("control socket: the CLI did not take the command's output (gone, stopped, or the daemon is stopping); the command ran without it",
			"command", commandLine(argv), "pid", pid, "exit", code, "error", err)
	}
}

// readRequest reads the CLI's configuration (nil when the client sends
// none), whether it draws progress, and its command line.
func readRequest(conn net.Conn) (argv []string, cfg *configFile, wantProgress bool, err error) {
	kind, p, err := readFrame(conn)
	if err == nil && kind == frameConfig {
		cfg = new(configFile)
		if err = json.Unmarshal(p, cfg); err == nil {
			kind, p, err = readFrame(conn)
		}
	}
	if err == nil && kind == frameWantProgress {
		wantProgress = true
		kind, p, err = readFrame(conn)
	}
	if err == nil && kind != frameArgv {
		err = fmt.Errorf("frame of kind %q, want the command line", kind)
	}
	if err == nil {
		err = json.Unmarshal(p, &argv)
	}
	return argv, cfg, wantProgress, err
}

// run runs argv as the daemon and returns its exit status; remote, when
// the CLI draws progress, gets the command's.
func (s *controlServer) run(conn net.Conn, out *frames, argv []string, cfg *configFile, pid int, remote *remoteProgress) int {
	stderr := stream{out, frameStderr}
	cmd, _, err := rootCmd(&globals{stdout: io.Discard, stderr: io.Discard}).Find(argv)
	if err != nil || cmd.Parent() == nil || !forwardable[strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")] {
		fmt.Fprintf(stderr, "idsync: the daemon carries out only sync, approve, notify off|on|register and token create|revoke, not %q\n", commandLine(argv))
		return exitError
	}
	a := s.app()
	line := commandLine(argv)
	if cfg == nil {
		// Every idsync CLI sends its configuration; a client that does not
		// is told what the command runs on.
		fmt.Fprintf(stderr, "idsync: note: the command did not say which configuration it loaded; the daemon runs it on %s as loaded at %s\n",
			a.file.Path, a.file.Loaded.Local().Format(time.DateTime))
	} else if msg := a.file.refusal(*cfg, os.Getpid()); msg != "" {
		s.log.Warn("control socket: refused a command: its configuration is not the daemon's", "command", line, "pid", pid,
			"config", cfg.Path, "daemon_config", a.file.Path)
		io.WriteString(stderr, msg)
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
	s.log.Info("carrying out a command sent to the control socket", "command", line, "pid", pid)
	g := &globals{stdout: stream{out, frameStdout}, stderr: stderr, argv: argv, daemon: a}
	if remote != nil {
		g.remote = remote
	}
	code := s.execute(ctx, g, line)
	s.log.Info("command done", "command", line, "pid", pid, "exit", code)
	return code
}

// execute runs a command for the CLI. A panic in it fails the command
// (exit 1, "panic: ..." on the CLI's stderr, the stack in the debug log),
// not the daemon, which goes on with its schedule.
func (s *controlServer) execute(ctx context.Context, g *globals, line string) (code int) {
	defer func() {
		if v := recover(); v != nil {
			msg := panicText(v)
			s.log.Error("recovered from a panic in a command sent to the control socket", "command", line, "panic", msg)
			s.log.Debug("panic stack", "command", line, "stack", string(debug.Stack()))
			fmt.Fprintf(g.stderr, "idsync: panic: %s (the daemon recovered and goes on; its log has the details)\n", msg)
			code = exitError
		}
	}()
	return execute(ctx, g)
}
