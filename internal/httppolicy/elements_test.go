package httppolicy_test

import (
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
	}
	for _, tc := range cases {
		err := httppolicy.CheckElements([]byte(tc.body), "value", 10)
		if got := httppolicy.IsTooManyElements(err); got != tc.want {
			t.Errorf("%.60s: refused %v (%v), want %v", tc.body, got, err, tc.want)
		}
	}
}
