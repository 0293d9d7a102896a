package entratest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/idsync/idsync/sources/entra/entratest"
)

func TestDeletedItems(t *testing.T) {
	c := newClient(t)
	var binned, gone []string
	for i := range 12 {
		id := c.srv.AddUser(entratest.User{UserPrincipalName: fmt.Sprintf("u%02d@contoso.test", i), AccountEnabled: true})
		switch i % 3 {
		case 1:
			c.srv.SoftDeleteUser(id)
			binned = append(binned, id)
		case 2:
			c.srv.SoftDeleteUser(id)
			c.srv.HardDeleteUser(id) // purged from the bin
			gone = append(gone, id)
		}
	}
	live, _ := c.srv.UserID("u00@contoso.test")
	list := c.srv.GraphURL + "/directory/deletedItems/microsoft.graph.user"

	t.Run("paged list of the bin's users", func(t *testing.T) {
		var ids []string
		pages := 0
		for link := list + "?$select=id&$top=3"; link != ""; pages++ {
			p := c.get(link)
			if p.status != http.StatusOK || p.Delta != "" {
				t.Fatalf("GET %s: %d %+v", link, p.status, p)
			}
			for _, v := range p.Value {
				if v["@odata.type"] != "#microsoft.graph.user" || len(v) != 2 {
					t.Errorf("item %v, want its type and id only", v)
				}
				ids = append(ids, v["id"].(string))
			}
			link = p.Next
		}
		if !slices.Equal(ids, binned) || pages != 2 {
			t.Errorf("listed %v in %d pages, want %v in 2", ids, pages, binned)
		}
	})
	t.Run("default properties and cast spellings", func(t *testing.T) {
		for _, link := range []string{list, c.srv.GraphURL + "/directory/deleteditems/graph.user"} {
			p := c.get(link)
			if p.status != http.StatusOK || len(p.Value) != len(binned) || p.Next != "" {
				t.Fatalf("GET %s: %d, %d users, next %q", link, p.status, len(p.Value), p.Next)
			}
			if v := p.Value[0]; v["userPrincipalName"] != "u01@contoso.test" || v["deletedDateTime"] == nil {
				t.Errorf("default properties: %v", v)
			}
		}
		if c.srv.Calls("deletedItems") < 2 {
			t.Errorf("deletedItems calls = %d", c.srv.Calls("deletedItems"))
		}
	})
	t.Run("$top bounds and the cast are required", func(t *testing.T) {
		for _, link := range []string{list + "?$top=1000", list + "?$top=0", c.srv.GraphURL + "/directory/deletedItems"} {
			if p := c.get(link); p.status != http.StatusBadRequest || p.Error == nil {
				t.Errorf("GET %s: %d %+v, want 400", link, p.status, p.Error)
			}
		}
	})
	t.Run("get one", func(t *testing.T) {
		p := c.getObject(c.srv.GraphURL + "/directory/deletedItems/" + binned[0] + "?$select=id")
		if p.status != http.StatusOK || p.body["id"] != binned[0] || p.body["@odata.type"] != "#microsoft.graph.user" {
			t.Errorf("binned user: %d %v", p.status, p.body)
		}
		for _, id := range []string{live, gone[0], "00000000-0000-0000-0000-000000000000"} {
			p := c.get(c.srv.GraphURL + "/directory/deletedItems/" + id)
			if p.status != http.StatusNotFound || p.Error == nil || p.Error.Code != "Request_ResourceNotFound" {
				t.Errorf("%s: %d %+v, want 404 Request_ResourceNotFound", id, p.status, p.Error)
			}
		}
		if n := c.srv.Calls("deletedItems/{id}"); n != 4 {
			t.Errorf("deletedItems/{id} calls = %d, want 4", n)
		}
	})
	t.Run("restore leaves the bin", func(t *testing.T) {
		if err := c.srv.RestoreUser(binned[0]); err != nil {
			t.Fatal(err)
		}
		if p := c.get(list); len(p.Value) != len(binned)-1 {
			t.Errorf("bin holds %d users after a restore, want %d", len(p.Value), len(binned)-1)
		}
	})
	t.Run("faults by route", func(t *testing.T) {
		c.srv.FailNext("directory/deletedItems", http.StatusServiceUnavailable, 1)
		if p := c.get(list); p.status != http.StatusServiceUnavailable {
			t.Errorf("FailNext: %d", p.status)
		}
		c.srv.FailPage("deletedItems", 2, http.StatusInternalServerError)
		p := c.get(list + "?$top=1")
		if p.status != http.StatusOK || p.Next == "" {
			t.Fatalf("page 1: %d %+v", p.status, p)
		}
		if p := c.get(p.Next); p.status != http.StatusInternalServerError {
			t.Errorf("FailPage 2: %d", p.status)
		}
		hooked := make(chan error, 1)
		c.srv.BeforeNext("deletedItems/{id}", func() { hooked <- c.srv.SoftDeleteUser(live) })
		p = c.get(c.srv.GraphURL + "/directory/deletedItems/" + live)
		select {
		case err := <-hooked:
			if err != nil || p.status != http.StatusOK {
				t.Errorf("BeforeNext: soft delete %v, then %d", err, p.status)
			}
		default:
			t.Error("BeforeNext hook did not run")
		}
	})
}

type object struct {
	status int
	body   map[string]any
}

// getObject GETs one object.
func (c *client) getObject(link string) object {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	o := object{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&o.body); err != nil {
		c.t.Fatalf("GET %s: %v", link, err)
	}
	return o
}
