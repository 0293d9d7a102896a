package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"time"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/sources/okta/oktatest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

// The benchmark's other processes are this program run again with
// childEnv set to what to be: the IdP emulator, the workspace, or the
// bare reader. Each has its own heap, GC and scheduler, as the real
// services have, so idsync's wall time and peak RSS are its own.
const (
	childEnv = "IDSYNC_E2E_CHILD" // emulator | workspace | bare
	argsEnv  = "IDSYNC_E2E_ARGS"  // the child's parameters, JSON
)

// childArgs are a child's parameters.
type childArgs struct {
	IdP    string   `json:"idp"`
	Users  int      `json:"users"`
	Groups int      `json:"groups"`
	Info   *idpInfo `json:"info,omitempty"` // bare: where to read
}

// idpInfo is what the emulator child reports on its first line: where it
// listens and the credentials it accepts.
type idpInfo struct {
	URL          string `json:"url"`
	GraphURL     string `json:"graph_url,omitempty"`
	AuthorityURL string `json:"authority_url,omitempty"`
	TenantID     string `json:"tenant_id,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	Token        string `json:"token,omitempty"`
	CAFile       string `json:"ca_file"`
	// RuleGroup is the group the benchmark's role rule names (its members
	// are read); ScopeGroups are Okta groups for a scoped variant.
	RuleGroup string `json:"rule_group"`
}

// runChild runs the child named by childEnv and reports whether it did.
func runChild() bool {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return false
	}
	var a childArgs
	if err := json.Unmarshal([]byte(os.Getenv(argsEnv)), &a); err != nil {
		fatal("child %s: %v", mode, err)
	}
	switch mode {
	case "emulator":
		serveEmulator(a, os.Stdin, os.Stdout)
	case "workspace":
		serveWorkspace(os.Stdin, os.Stdout)
	case "bare":
		n, err := bareRead(a)
		if err != nil {
			fatal("bare read: %v", err)
		}
		fmt.Println(n)
	default:
		fatal("unknown child %q", mode)
	}
	return true
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
	os.Exit(1)
}

// emulator is what the emulator child serves commands with.
type emulator interface {
	requests() int
	mutate(n int) // n changes that each make one op: titles, a disable, a rule-group join
	close()
}

// serveEmulator starts the IdP emulator with a generated directory,
// prints its idpInfo, then answers one command per input line:
// "requests" (API requests answered so far) and "mutate N". It stops when
// its input closes.
func serveEmulator(a childArgs, in io.Reader, out io.Writer) {
	var (
		em   emulator
		info idpInfo
	)
	switch a.IdP {
	case "entra":
		srv := entratest.NewServer()
		srv.Generate(a.Users, a.Groups)
		info = idpInfo{URL: srv.URL, GraphURL: srv.GraphURL, AuthorityURL: srv.AuthorityURL, TenantID: srv.TenantID,
			ClientID: srv.ClientID, ClientSecret: srv.ClientSecret, CAFile: srv.CAFile, RuleGroup: "Group 0007"}
		em = &entraEm{srv: srv, users: a.Users, rule: info.RuleGroup}
	case "okta":
		srv := oktatest.NewServer()
		ids := srv.Generate(a.Users, a.Groups)
		srv.SetRateLimit(oktatest.BucketAll, 1<<30) // pacing is not what is measured
		info = idpInfo{URL: srv.URL, Token: srv.Token, CAFile: srv.CAFile, RuleGroup: "Bench Group 7"}
		em = &oktaEm{srv: srv, ids: ids, groups: a.Groups}
	default:
		fatal("unknown idp %q", a.IdP)
	}
	defer em.close()
	b, _ := json.Marshal(info)
	fmt.Fprintf(out, "%s\n", b)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "requests":
			fmt.Fprintln(out, em.requests())
		case len(f) == 2 && f[0] == "mutate":
			n, _ := strconv.Atoi(f[1])
			em.mutate(n)
			fmt.Fprintln(out, "ok")
		default:
			fmt.Fprintln(out, "?")
		}
	}
}

type entraEm struct {
	srv   *entratest.Server
	users int
	rule  string
	n     int
}

// entraRoutes are the routes entratest counts (Server.Calls).
var entraRoutes = []string{"token", "openid-configuration", "users/delta", "users/{id}", "groups/delta",
	"deletedItems", "deletedItems/{id}", "servicePrincipals", "appRoleAssignedTo"}

func (e *entraEm) requests() int {
	n := 0
	for _, r := range entraRoutes {
		n += e.srv.Calls(r)
	}
	return n
}

func (e *entraEm) close() { e.srv.Close() }

// next picks users not changed before: not disabled by the generator
// (every 50th) and, by stepping over a large prime, spread over the tenant.
func (e *entraEm) next() string {
	for {
		e.n++
		i := (e.n * 7919) % e.users
		if i%50 == 0 {
			continue
		}
		id, ok := e.srv.UserID(fmt.Sprintf("user%06d@%s", i, entratest.SampleDomain))
		if ok {
			return id
		}
	}
}

func (e *entraEm) mutate(n int) {
	gid, _ := e.srv.GroupID(e.rule)
	for i := range n {
		id := e.next()
		switch {
		case i == n-1 && n > 2:
			// a role change; a user already in the group gets a title change instead
			if slices.Contains(e.srv.Members(gid), id) {
				_ = e.srv.UpdateUser(id, func(u *entratest.User) { u.JobTitle = fmt.Sprint("Lead ", e.n) })
			} else {
				_ = e.srv.AddMember(gid, id)
			}
		case i == n-2 && n > 2:
			_ = e.srv.DisableUser(id)
		default:
			_ = e.srv.UpdateUser(id, func(u *entratest.User) { u.JobTitle = fmt.Sprint("Engineer ", e.n) })
		}
	}
}

type oktaEm struct {
	srv    *oktatest.Server
	ids    []string
	groups int
	n      int
}

func (o *oktaEm) requests() int { return o.srv.Requests() }
func (o *oktaEm) close()        { o.srv.Close() }

func (o *oktaEm) next() string {
	o.n++
	return o.ids[(o.n*7919)%len(o.ids)]
}

func (o *oktaEm) mutate(n int) {
	for i := range n {
		id := o.next()
		switch {
		case i == n-2 && n > 2:
			o.srv.Suspend(id)
		default:
			o.srv.UpdateUser(id, func(u *oktatest.User) { u.Title = fmt.Sprint("Engineer ", o.n) })
		}
	}
}

// serveWorkspace starts an empty scimtest workspace (Bulk on, as a SaaS
// app that offers it), prints its URL, then answers "first-write" with the
// Unix time in nanoseconds of the first request that changed it (0: none
// yet). It stops when its input closes.
func serveWorkspace(in io.Reader, out io.Writer) {
	ws := scimtest.NewServer(scimtest.Options{Token: wsToken, Bulk: true})
	defer ws.Close()
	var (
		mu    stdsync.Mutex
		first time.Time
	)
	ws.OnRequest(func(r scimtest.Request) {
		if r.Method == "GET" {
			return
		}
		mu.Lock()
		if first.IsZero() || r.Time.Before(first) {
			first = r.Time
		}
		mu.Unlock()
	})
	fmt.Fprintln(out, ws.URL)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch sc.Text() {
		case "first-write":
			mu.Lock()
			t := first
			mu.Unlock()
			if t.IsZero() {
				fmt.Fprintln(out, 0)
			} else {
				fmt.Fprintln(out, t.UnixNano())
			}
		case "requests":
			fmt.Fprintln(out, len(ws.Requests()))
		default:
			fmt.Fprintln(out, "?")
		}
	}
}

const wsToken = "e2e-workspace-token"
