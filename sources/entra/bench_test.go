package entra_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sources/entra/entratest"
)

// The 100k tenant is built on first use, so plain `go test` (no -bench)
// never pays for it.
var bench100k struct {
	once  sync.Once
	srv   *entratest.Server
	appID string
}

func tenant100k(b *testing.B) (*entratest.Server, string) {
	b.Helper()
	bench100k.once.Do(func() {
		bench100k.srv = entratest.NewServer()
		bench100k.appID = bench100k.srv.Generate(100_000, 1_000)
	})
	return bench100k.srv, bench100k.appID
}

// BenchmarkPullFull100k: a full Pull (users, groups with 200k member
// links, app assignments) of a 100,000-user, 1,000-group tenant through
// msgraph-sdk-go, changes discarded.
func BenchmarkPullFull100k(b *testing.B) {
	srv, appID := tenant100k(b)
	cfg := config(srv)
	cfg.Scope.AppID = appID
	src := open(b, cfg)
	stop := samplePeakHeap()
	b.ResetTimer()
	var changes, pages int
	for b.Loop() {
		changes, pages = 0, 0
		_, _, err := src.Pull(context.Background(), "", func(p []idsync.Change) error {
			changes += len(p)
			pages++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportMemory(b, stop())
	b.ReportMetric(float64(changes), "changes/op")
	b.ReportMetric(float64(pages), "pages/op")
}

// BenchmarkPullIncremental100k: a Pull with the cursor of the previous one
// after 10 changes (title updates, a disable, membership moves) in the
// 100k tenant: what a scheduled run costs on the source side.
func BenchmarkPullIncremental100k(b *testing.B) {
	srv, appID := tenant100k(b)
	cfg := config(srv)
	cfg.Scope.AppID = appID
	src := open(b, cfg)
	cursor, _, err := src.Pull(context.Background(), "", func([]idsync.Change) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	g1, _ := srv.GroupID("Group 0001")
	g2, _ := srv.GroupID("Group 0002")
	b.ResetTimer()
	var changes int
	n := 0
	for b.Loop() {
		b.StopTimer()
		for range 8 {
			id, _ := srv.UserID(fmt.Sprintf("user%06d@%s", n%100_000, entratest.SampleDomain))
			srv.UpdateUser(id, func(u *entratest.User) { u.JobTitle = fmt.Sprint("Engineer ", n) })
			n++
		}
		id, _ := srv.UserID(fmt.Sprintf("user%06d@%s", n%100_000, entratest.SampleDomain))
		srv.AddMember(g1, id)
		srv.RemoveMember(g2, id)
		b.StartTimer()
		changes = 0
		cursor, _, err = src.Pull(context.Background(), cursor, func(p []idsync.Change) error {
			changes += len(p)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(changes), "changes/op")
}

// BenchmarkBarePagedRead100k: the same delta pages read with net/http and
// encoding/json into plain structs, following nextLink — the floor any
// client pays (emulator, TLS, JSON).
func BenchmarkBarePagedRead100k(b *testing.B) {
	srv, _ := tenant100k(b)
	client := srv.Client()
	token := bareToken(b, client, srv)
	stop := samplePeakHeap()
	b.ResetTimer()
	var objects, pages int
	for b.Loop() {
		objects, pages = 0, 0
		sel := "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,employeeId,jobTitle,department"
		link := srv.GraphURL + "/users/delta()?$select=" + sel
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
			bareGet(b, client, token, link, &page)
			objects += len(page.Value)
			pages++
			link = page.Next
		}
		link = srv.GraphURL + "/groups/delta()?$select=id,displayName,description,members"
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
			bareGet(b, client, token, link, &page)
			for _, g := range page.Value {
				objects += 1 + len(g.Members)
			}
			pages++
			link = page.Next
		}
	}
	b.StopTimer()
	reportMemory(b, stop())
	b.ReportMetric(float64(objects), "objects/op")
	b.ReportMetric(float64(pages), "pages/op")
}

func bareToken(b *testing.B, client *http.Client, srv *entratest.Server) string {
	b.Helper()
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
	return tok.AccessToken
}

func bareGet(b *testing.B, client *http.Client, token, link string, v any) {
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
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

// samplePeakHeap watches the Go heap until the returned func is called and
// then reports its peak in bytes.
func samplePeakHeap() func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); <-stopped; return peak.Load() }
}

// reportMemory reports the peak Go heap during the benchmark and the
// process's peak RSS (VmHWM) — both include the emulator and its 100k
// tenant, which live in the same process.
func reportMemory(b *testing.B, peakHeap uint64) {
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			b.ReportMetric(float64(kb)/1024, "peak-RSS-MB")
		}
	}
}
