package scim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	stdsync "sync"
	"testing"
)

func BenchmarkZZStateRepoFilter(b *testing.B) {
	repo, _ := openStateRepo(&testing.T{}, "a")
	var rs []*Resource
	for i := range 2000 {
		rs = append(rs, &Resource{Kind: KindUser, ID: fmt.Sprintf("id-%05d", i), UserName: fmt.Sprintf("user%05d@x.test", i), Attrs: map[string]any{"userName": fmt.Sprintf("user%05d@x.test", i), "active": true, "name": map[string]any{"givenName": "a", "familyName": "b"}}})
	}
	repo.Update(context.Background(), func(tx RepoTx) error {
		for _, r := range rs {
			if err := tx.Put(r); err != nil {
				return err
			}
		}
		return nil
	})
	srv := httptest.NewServer(NewHandler(repo, Options{BaseURL: "http://x"}))
	defer srv.Close()
	b.ResetTimer()
	var wg stdsync.WaitGroup
	n := b.N
	ch := make(chan int, n)
	for i := range n {
		ch <- i
	}
	close(ch)
	for range 32 {
		wg.Go(func() {
			for i := range ch {
				var resp *http.Response
				if i%10 == 0 {
					req, _ := http.NewRequest("PATCH", srv.URL+"/Users/"+fmt.Sprintf("id-%05d", i%2000), stringsReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"title","value":"T`+fmt.Sprint(i)+`"}]}`))
					req.Header.Set("Content-Type", "application/scim+json")
					resp, _ = http.DefaultClient.Do(req)
				} else {
					resp, _ = http.Get(srv.URL + "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "user%05d@x.test"`, i%2000)))
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

func stringsReader(s string) io.Reader { return &sr{s: s} }

type sr struct{ s string }

func (r *sr) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}
