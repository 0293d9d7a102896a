package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	stdsync "sync"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources/entra"
	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/sync"
)

// The 100k Entra tenant: 100,000 users, 1,000 groups (every user directly
// in two, every tenth group nested), built on first use.
var entra100k struct {
	once stdsync.Once
	srv  *entratest.Server
}

func entraTenant(b *testing.B) *entratest.Server {
	b.Helper()
	entra100k.once.Do(func() {
		entra100k.srv = entratest.NewServer()
		entra100k.srv.Generate(100_000, 1_000)
	})
	return entra100k.srv
}

// entraConn is a connection as cmd/idsync builds it from
//
//	source: {type: entra, tenant_id, client_id, client_secret, graph_url, authority_url, ca_file}
//	roles: {default: reader, rules: [{group: "Group 0007", role: admin}]}
//
// with no scope (every user of the tenant).
func entraConn(b *testing.B, srv *entratest.Server) *sync.Connection {
	b.Helper()
	src, err := entra.Open(context.Background(), entra.Config{
		TenantID: srv.TenantID, ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
		GraphURL: srv.GraphURL, AuthorityURL: srv.AuthorityURL, CAFile: srv.CAFile,
	})
	if err != nil {
		b.Fatal(err)
	}
	p := policy()
	p.Rules = []sync.RoleRule{{Group: "Group 0007", Role: "admin"}}
	c := &sync.Connection{Name: "entra-bench", SourceType: "entra", Source: src, Policy: p}
	return c
}

// BenchmarkEntraInitialDryRun100k: `idsync sync --dry-run` on an empty
// state against the 100k tenant (every user planned as a create), and in
// the same iteration a bare paged read of the same delta pages.
func BenchmarkEntraInitialDryRun100k(b *testing.B) {
	srv := entraTenant(b)
	st := openStore(b)
	c := entraConn(b, srv)
	e := sync.New(st, nil)
	bare := newEntraBare(b, srv)
	resetPeakRSS()
	startRSS := rssMB("VmRSS") // the emulator and its tenant, the empty store
	b.ResetTimer()
	var bareTotal, pullTotal time.Duration
	var ops int
	for b.Loop() {
		b.StopTimer()
		t0 := time.Now()
		objects := bare.read(b)
		bareTotal += time.Since(t0)
		if objects < 300_000 {
			b.Fatalf("bare read saw %d objects", objects)
		}
		// The source alone, changes discarded: what the engine adds is the rest.
		t0 = time.Now()
		if _, _, err := c.Source.Pull(context.Background(), "", func([]idsync.Change) error { return nil }); err != nil {
			b.Fatal(err)
		}
		pullTotal += time.Since(t0)
		b.StartTimer()
		res, err := e.Run(context.Background(), c, sync.Options{DryRun: true})
		if err != nil {
			b.Fatal(err)
		}
		if ops = len(res.Plan.Ops); ops < 98_000 {
			b.Fatalf("dry run planned %d ops", ops)
		}
	}
	b.StopTimer()
	run := b.Elapsed().Seconds() / float64(b.N)
	bareS := bareTotal.Seconds() / float64(b.N)
	b.ReportMetric(bareS, "bare-s/op")
	b.ReportMetric(pullTotal.Seconds()/float64(b.N), "source-s/op")
	b.ReportMetric(run, "dryrun-s/op")
	b.ReportMetric(run/bareS, "ratio")
	b.ReportMetric(rssMB("VmHWM"), "peak-RSS-MB")
	b.ReportMetric(startRSS, "start-RSS-MB")
	b.ReportMetric(float64(ops), "planned-ops")
}

// BenchmarkEntraIncremental100k: after a real full sync of the 100k tenant
// into scimtest, an incremental run (pull with the delta links, plan,
// apply to the workspace) after 10 changes in the tenant: 8 title changes,
// one disable, one user moved into the admin group.
func BenchmarkEntraIncremental100k(b *testing.B) {
	srv := entraTenant(b)
	st := openStore(b)
	ws, tgt := workspace(b)
	c := entraConn(b, srv)
	c.Target = tgt
	e := sync.New(st, nil)
	t0 := time.Now()
	res, err := e.Run(context.Background(), c, sync.Options{})
	if err != nil || res.Failed > 0 {
		b.Fatalf("initial sync: %v (%d failed)", err, res.Failed)
	}
	b.Logf("initial real sync: %d ops applied in %s; workspace holds %d users", res.Applied, time.Since(t0).Round(time.Millisecond), len(ws.Users()))
	admins, _ := srv.GroupID("Group 0007")
	isAdmin := map[string]bool{}
	for _, id := range srv.Members(admins) {
		isAdmin[id] = true
	}
	// next returns a user not yet changed, enabled (the generator disables
	// every 50th) and outside the admin group, so each change is one op.
	n := 0
	next := func() string {
		for {
			n++
			i := 1 + n*37%99_000
			id, ok := srv.UserID(fmt.Sprintf("user%06d@%s", i, entratest.SampleDomain))
			if !ok {
				b.Fatalf("no user %d", i)
			}
			if i%50 != 0 && !isAdmin[id] {
				return id
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for range 8 {
			srv.UpdateUser(next(), func(u *entratest.User) { u.JobTitle = fmt.Sprint("Engineer ", n) })
		}
		srv.DisableUser(next())
		id := next()
		if err := srv.AddMember(admins, id); err != nil {
			b.Fatal(err)
		}
		isAdmin[id] = true
		b.StartTimer()
		res, err := e.Run(context.Background(), c, sync.Options{})
		if err != nil || res.Applied != 10 || res.Failed != 0 {
			b.Fatalf("incremental run: %v, applied %d, failed %d, plan %d ops", err, res.Applied, res.Failed, len(res.Plan.Ops))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
}

// entraBare reads users/delta and groups/delta with net/http and
// encoding/json, following nextLink to the deltaLink: the floor any client
// pays for the emulator, TLS and JSON.
type entraBare struct {
	srv    *entratest.Server
	client *http.Client
	token  string
}

func newEntraBare(b *testing.B, srv *entratest.Server) *entraBare {
	b.Helper()
	client := srv.Client()
	resp, err := client.PostForm(srv.AuthorityURL+srv.TenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {srv.ClientID}, "client_secret": {srv.ClientSecret},
		"scope": {srv.URL + "/.default"},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("token: %v (status %d)", err, resp.StatusCode)
	}
	return &entraBare{srv: srv, client: client, token: tok.AccessToken}
}

func (r *entraBare) read(b *testing.B) (objects int) {
	sel := "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,employeeId,jobTitle,department"
	link := r.srv.GraphURL + "/users/delta()?$select=" + sel
	for link != "" {
		var page struct {
			Next  string `json:"@odata.nextLink"`
			Delta string `json:"@odata.deltaLink"`
			Value []struct {
				ID, UserPrincipalName, Mail, GivenName, Surname, DisplayName string
				EmployeeID                                                   string `json:"employeeId"`
				JobTitle, Department                                         string
				AccountEnabled                                               *bool
				Removed                                                      *struct{ Reason string } `json:"@removed"`
			} `json:"value"`
		}
		r.get(b, link, &page)
		objects += len(page.Value)
		link = page.Next
	}
	link = r.srv.GraphURL + "/groups/delta()?$select=displayName,description,members"
	for link != "" {
		var page struct {
			Next  string `json:"@odata.nextLink"`
			Delta string `json:"@odata.deltaLink"`
			Value []struct {
				ID, DisplayName, Description string
				Removed                      *struct{ Reason string } `json:"@removed"`
				Members                      []struct {
					Type    string                   `json:"@odata.type"`
					ID      string                   `json:"id"`
					Removed *struct{ Reason string } `json:"@removed"`
				} `json:"members@delta"`
			} `json:"value"`
		}
		r.get(b, link, &page)
		for _, g := range page.Value {
			objects += 1 + len(g.Members)
		}
		link = page.Next
	}
	return objects
}

func (r *entraBare) get(b *testing.B, link string, v any) {
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s", link, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		b.Fatal(err)
	}
}
