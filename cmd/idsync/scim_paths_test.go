package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/idsync/idsync/config"
	pushscim "github.com/idsync/idsync/sources/scim"
	"github.com/idsync/idsync/state"
	"github.com/idsync/idsync/sync"
)

// TestListenerTokenOfAOnBThroughPaths: a token of connection a never
// reaches b's resources, however the path is spelled (dot segments, encoded
// slashes and dots, case, trailing slashes, CONNECT, which the mux does not
// clean). Requests are written raw: a client would clean or encode them.
func TestListenerTokenOfAOnBThroughPaths(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := state.Open(ctx, t.TempDir()+"/idsync.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	conns := map[string]*sync.Connection{}
	for _, n := range []string{"a", "b"} {
		src, err := pushscim.Open(pushscim.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		conns[n] = &sync.Connection{Name: n, SourceType: "scim", Source: src}
	}
	a := &app{cfg: &config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:0"}}, store: st, log: slog.New(slog.DiscardHandler), byName: conns}
	mux := http.NewServeMux()
	d := daemonHTTP{app: func() *app { return a }, trigger: func(string, string) bool { return true }}
	mountSCIM(ctx, mux, a, d)
	addr := serveTest(t, withAuth(a, d, mux))
	tokA, hashA, _ := newToken()
	tokB, hashB, _ := newToken()
	if err := st.Update(ctx, func(tx *state.Tx) error {
		if err := tx.CreateToken(&state.Token{Connection: "a", Name: "t", Hash: hashA}); err != nil {
			return err
		}
		return tx.CreateToken(&state.Token{Connection: "b", Name: "t", Hash: hashB})
	}); err != nil {
		t.Fatal(err)
	}
	raw := func(method, path, tok, body string) (int, string) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/scim+json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			method, path, tok, len(body), body)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	secret := "b-only@b.test"
	if code, body := raw("POST", "/scim/v2/b/Users", tokB, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+secret+`"}`); code != http.StatusCreated {
		t.Fatalf("create in b: %d %s", code, body)
	}
	for _, m := range []string{"GET", "CONNECT", "DELETE"} {
		for _, p := range []string{
			"/scim/v2/b/Users", "/scim/v2/b/Users/", "/scim/v2/B/Users", "/scim/v2/b//Users",
			"/scim/v2/a/../b/Users", "/scim/v2/a/%2e%2e/b/Users", "/scim/v2/a%2f..%2fb/Users", "/scim/v2/a%2F%2E%2E%2Fb/Users",
			"/scim/v2/./b/Users", "/scim/v2//b/Users", "/scim/v2/a/..%2fb/Users", "/scim/./v2/b/Users", "/scim/v2/b%2fUsers",
		} {
			code, body := raw(m, p, tokA, "")
			if strings.Contains(body, secret) || (code >= 200 && code < 300) {
				t.Errorf("%s %s with a's token: %d %s", m, p, code, body)
			}
		}
	}
}
