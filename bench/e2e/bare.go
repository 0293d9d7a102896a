package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// bareRead is the floor: the pages idsync reads for the benchmark's
// connection, read with plain net/http and decoded with encoding/json into
// the fields idsync keeps, following next links. It returns how many
// objects it saw.
func bareRead(a childArgs) (int, error) {
	pem, err := os.ReadFile(a.Info.CAFile)
	if err != nil {
		return 0, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	switch a.IdP {
	case "entra":
		return entraBare(hc, a.Info)
	case "okta":
		return oktaBare(hc, a.Info)
	}
	return 0, fmt.Errorf("unknown idp %q", a.IdP)
}

func getJSON(hc *http.Client, link, auth string, v any) (http.Header, error) {
	req, err := http.NewRequest(http.MethodGet, link, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", link, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // keep the connection reusable
	return resp.Header, nil
}

// entraBare: a client-credentials token, users/delta and groups/delta with
// idsync's $select, and the recycle bin's user list.
func entraBare(hc *http.Client, in *idpInfo) (int, error) {
	resp, err := hc.PostForm(in.AuthorityURL+in.TenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {in.ClientID}, "client_secret": {in.ClientSecret},
		"scope": {in.URL + "/.default"},
	})
	if err != nil {
		return 0, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		return 0, fmt.Errorf("token: %v (status %d)", err, resp.StatusCode)
	}
	auth := "Bearer " + tok.AccessToken
	objects := 0
	sel := "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,employeeId,jobTitle,department"
	for link := in.GraphURL + "/users/delta()?$select=" + sel; link != ""; {
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
		if _, err := getJSON(hc, link, auth, &page); err != nil {
			return 0, err
		}
		objects += len(page.Value)
		link = page.Next
	}
	for link := in.GraphURL + "/groups/delta()?$select=displayName,description,members"; link != ""; {
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
		if _, err := getJSON(hc, link, auth, &page); err != nil {
			return 0, err
		}
		for _, g := range page.Value {
			objects += 1 + len(g.Members)
		}
		link = page.Next
	}
	for link := in.GraphURL + "/directory/deletedItems/microsoft.graph.user?$top=999"; link != ""; {
		var page struct {
			Next  string `json:"@odata.nextLink"`
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
		}
		if _, err := getJSON(hc, link, auth, &page); err != nil {
			return 0, err
		}
		objects += len(page.Value)
		link = page.Next
	}
	return objects, nil
}

// oktaBare: every user (search status pr, pages of 200), every group
// (pages of 1,000), and the members of the group the role rule names:
// what idsync needs for the benchmark's connection.
func oktaBare(hc *http.Client, in *idpInfo) (int, error) {
	auth := "SSWS " + in.Token
	n := 0
	var rule string
	read := func(link string, each func(id, name string)) error {
		for link != "" {
			var items []struct {
				ID      string `json:"id"`
				Status  string `json:"status"`
				Profile struct {
					Login, Email, FirstName, LastName, DisplayName, Title, Department, Name, Description string
					EmployeeNumber                                                                       string `json:"employeeNumber"`
				} `json:"profile"`
			}
			h, err := getJSON(hc, link, auth, &items)
			if err != nil {
				return err
			}
			for _, it := range items {
				each(it.ID, it.Profile.Name)
			}
			link = nextLink(h)
		}
		return nil
	}
	if err := read(in.URL+"/api/v1/users?limit=200&search=status+pr", func(string, string) { n++ }); err != nil {
		return 0, err
	}
	if err := read(in.URL+"/api/v1/groups?limit=1000", func(id, name string) {
		n++
		if name == in.RuleGroup {
			rule = id
		}
	}); err != nil {
		return 0, err
	}
	if rule == "" {
		return 0, fmt.Errorf("no group %q", in.RuleGroup)
	}
	if err := read(in.URL+"/api/v1/groups/"+rule+"/users?limit=1000", func(string, string) { n++ }); err != nil {
		return 0, err
	}
	return n, nil
}

func nextLink(h http.Header) string {
	for _, l := range h.Values("Link") {
		if strings.Contains(l, `rel="next"`) {
			return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(strings.SplitN(l, ";", 2)[0]), "<"), ">")
		}
	}
	return ""
}
