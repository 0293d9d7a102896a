package httppolicy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/idsync/idsync/internal/httppolicy"
)

func TestCheckElements(t *testing.T) {
	many := `[` + strings.Repeat(`{"a":[1,2]},`, 10) + `{}]` // 11 entries
	cases := []struct {
		body string
		want bool // refused
	}{
		{`{"value":` + many + `}`, true},
		{`{"@odata.nextLink":"x","other":` + many + `,"value":[{},{}]}`, false}, // only key counts
		{`{"value":[{},{}],"value":` + many + `}`, true},                        // a repeated key counts too
		{`{"value":[` + strings.Repeat(`{},`, 9) + `{}]}`, false},               // exactly max
		{`[1,2,3]`, false},      // not an object: left to the decoder
		{`{"value":{}}`, false}, // not an array: left to the decoder
		{`{"value":[{},`, false},
		{`{"VALUE":` + many + `}`, true},      // encoding/json would decode it into "value"
		{`{"val\u0075e":` + many + `}`, true}, // an escaped name is the same name
		{`{"value":["]\"[{",` + strings.Repeat(`"}",`, 9) + `{"x":"]]]"}]}`, true},  // brackets in strings are text
		{` {"a":{"value":` + many + `},"value":[1, 2 ,3e5,true,null,"x"]} `, false}, // nested keys do not count
	}
	for _, tc := range cases {
		err := httppolicy.CheckElements([]byte(tc.body), "value", 10)
		if got := httppolicy.IsTooManyElements(err); got != tc.want {
			t.Errorf("%.60s: refused %v (%v), want %v", tc.body, got, err, tc.want)
		}
	}
}

func TestScanObjectFindsTheNextLink(t *testing.T) {
	body := []byte(`{"@odata.context":"c","value":[{"id":"1","@odata.nextLink":"inner"},{"id":"2"}],"@odata.nextLink":"https://graph/v1.0/users/delta?$skiptoken=a\u0026b"}`)
	next, err := httppolicy.ScanObject(body, "value", 10, "@odata.nextLink")
	if err != nil || next != "https://graph/v1.0/users/delta?$skiptoken=a&b" {
		t.Fatalf("next = %q, %v", next, err)
	}
	if next, _ := httppolicy.ScanObject([]byte(`{"value":[]}`), "value", 10, "@odata.nextLink"); next != "" {
		t.Fatalf("next of a last page = %q", next)
	}
}

func TestCheckArray(t *testing.T) {
	for body, want := range map[string]bool{
		`[` + strings.Repeat(`{},`, 10) + `{}]`: true,
		`[` + strings.Repeat(`{},`, 9) + `{}]`:  false,
		` []`:                                   false,
		`{"a":1}`:                               false, // not an array: left to the decoder
		`[{"x":"],["},` + strings.Repeat(`1,`, 9) + `2]`: true,
	} {
		if got := httppolicy.IsTooManyElements(httppolicy.CheckArray([]byte(body), 10)); got != want {
			t.Errorf("%.40s: refused %v, want %v", body, got, want)
		}
	}
}

// Plain names pass Text unchanged (its fast path); anything else is still
// cleaned.
func TestTextPlainAndNot(t *testing.T) {
	for in, want := range map[string]string{
		"alice.archer@contoso.test": "alice.archer@contoso.test",
		"User 000123":               "User 000123",
		" lead":                     "lead",
		"trail ":                    "trail",
		"two  spaces":               "two spaces",
		"tab\there":                 "tab here",
		"esc\x1b[31mred":            "escred",
		"Zoë":                       "Zoë",
	} {
		if got := httppolicy.Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// On hostile pages the scanned next link is the one encoding/json decodes,
// or the scan finds none (the decoder's link is then followed instead):
// a link inside a string value, an escaped key, duplicated keys.
func TestScanObjectAgreesWithTheDecoder(t *testing.T) {
	for _, body := range []string{
		`{"value":[{"x":"\"@odata.nextLink\":\"https://evil/\""}],"y":"\",\"@odata.nextLink\":\"https://evil/\"","@odata.deltaLink":"d"}`,
		`{"\u0040odata.nextLink":"https://graph/a","value":[]}`,
		`{"@odata.nextLink":"https://graph/a","value":[],"@odata.nextLink":"https://graph/b"}`,
		`{"@odata.nextLink":"https://graph/a","x":{"@odata.nextLink":"https://evil/"},"value":[{"value":[1,2,3,4]}]}`,
		`{"@odata.nextLink":"https://graph/a\\\"b","value":[]}`,
	} {
		var doc struct {
			Next string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		next, err := httppolicy.ScanObject([]byte(body), "value", 2, "@odata.nextLink")
		if err != nil || next != doc.Next {
			t.Errorf("%s: scanned %q (%v), decoded %q", body, next, err, doc.Next)
		}
	}
	// A key differing in letter case: encoding/json takes it, the scan
	// does not; the caller follows the decoder's link when they differ.
	body := `{"@odata.nextLink":"https://graph/a","@ODATA.NEXTLINK":"https://graph/b"}`
	if next, _ := httppolicy.ScanObject([]byte(body), "value", 2, "@odata.nextLink"); next != "https://graph/a" {
		t.Errorf("case-folded duplicate: scanned %q", next)
	}
}
