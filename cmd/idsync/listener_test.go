package main

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serveTest serves h with the listener's server on 127.0.0.1 and returns
// its address.
func serveTest(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// closedByServer reports whether the server closes conn (EOF or reset)
// within a generous deadline.
func closedByServer(t *testing.T, r io.Reader, conn net.Conn) bool {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadAll(r)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestListenerDropsIdleKeepAliveConnections: a client that opens
// keep-alive connections and then says nothing held each open forever (no
// IdleTimeout); enough of them exhaust the daemon's file descriptors.
func TestListenerDropsIdleKeepAliveConnections(t *testing.T) {
	saved := listenerTimeouts
	t.Cleanup(func() { listenerTimeouts = saved })
	listenerTimeouts.Idle = 100 * time.Millisecond // the others stay long
	addr := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }))

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: idsync\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatal("the server closed the connection after the answer: not a keep-alive test")
	}
	if !closedByServer(t, br, conn) {
		t.Fatal("an idle keep-alive connection was still open after 10s")
	}
}

// TestListenerDropsSlowHeaders: a client trickling its request headers
// (slowloris) is cut off.
func TestListenerDropsSlowHeaders(t *testing.T) {
	saved := listenerTimeouts
	t.Cleanup(func() { listenerTimeouts = saved })
	listenerTimeouts.ReadHeader = 100 * time.Millisecond
	addr := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: idsync\r\nX-Slow: ")
	if !closedByServer(t, conn, conn) {
		t.Fatal("a client that never finished its headers was still connected after 10s")
	}
}

// TestPlainBindWarning: `listen: :8080` binds every interface; without TLS
// that is said, and loopback is not.
func TestPlainBindWarning(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, ""},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, ""},
		{&net.TCPAddr{IP: net.IPv4(127, 1, 2, 3), Port: 8080}, ""},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "binds every interface without TLS"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "binds every interface without TLS"},
		{&net.TCPAddr{Port: 8080}, "binds every interface without TLS"},
		{&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8080}, "binds a non-loopback address without TLS"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 8080}, "binds a non-loopback address without TLS"},
	} {
		got := plainBindWarning(tc.addr)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%v: %q, want %q", tc.addr, got, tc.want)
		}
	}
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	warnPlainBind(log, &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, true)
	if buf.Len() != 0 {
		t.Errorf("a TLS listener was warned about: %s", buf.String())
	}
	warnPlainBind(log, &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, false)
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "addr=[::]:8080") {
		t.Errorf("log: %s", buf.String())
	}
}

func TestLimitInFlightAnswersBusyBeyondTheLimit(t *testing.T) {
	entered, release := make(chan struct{}, 3), make(chan struct{})
	h := limitInFlight(2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	done := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(srv.URL)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		<-entered
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request at once: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(release)
	for range 2 {
		if c := <-done; c != http.StatusOK {
			t.Fatalf("a request within the limit: %d", c)
		}
	}
	if resp, err := http.Get(srv.URL); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after the others finished: %v %v", resp, err)
	}
}
