package main

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

// listenerTimeouts bound every connection to the HTTP listener, so a
// client cannot hold one open for nothing: headers must arrive within
// ReadHeader, the whole request within Read, the answer must be written
// within Write, and a kept-alive connection with no request is closed after
// Idle (without it Go keeps an idle connection forever).
var listenerTimeouts = struct{ ReadHeader, Read, Write, Idle time.Duration }{
	ReadHeader: 10 * time.Second,
	Read:       30 * time.Second,
	Write:      30 * time.Second,
	Idle:       2 * time.Minute,
}

// newHTTPServer is the listener's server for h.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	t := listenerTimeouts
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// warnPlainBind warns when the listener at addr, served without TLS, can
// be reached from other machines: "listen: :8080" binds every interface.
func warnPlainBind(log *slog.Logger, addr net.Addr, tls bool) {
	if tls {
		return
	}
	if msg := plainBindWarning(addr); msg != "" {
		log.Warn(msg, "addr", addr.String())
	}
}

// plainBindWarning says why a plain-HTTP listener at addr is reachable by
// others, or "" when it is loopback only.
func plainBindWarning(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	switch {
	case !ok:
		return ""
	case tcp.IP.IsLoopback():
		return ""
	case tcp.IP == nil || tcp.IP.IsUnspecified():
		return "http.listen binds every interface without TLS: other machines can reach it in clear text; bind 127.0.0.1 (behind a proxy) or set http.tls"
	}
	return "http.listen binds a non-loopback address without TLS: other machines can reach it in clear text; bind 127.0.0.1 (behind a proxy) or set http.tls"
}

// maxPageRequests bounds the requests to the status page and /metrics
// served at once: each reads the state (a held plan of thousands of ops
// is decoded whole), so a client looping on them must not take the
// daemon's CPU and memory from its runs.
const maxPageRequests = 4

// limitInFlight serves at most n requests of h at once; beyond that it
// answers 503 at once with Retry-After, rather than queueing them.
func limitInFlight(n int, h http.Handler) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy: too many requests at once; retry in a second", http.StatusServiceUnavailable)
		}
	})
}
