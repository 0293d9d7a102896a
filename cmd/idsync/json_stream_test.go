package main

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/idsync/idsync"
	"github.com/idsync/idsync/sync"
)

// The streamed results document is byte for byte what encoding/json's
// indenting Encoder makes of it: scripts parse it, people diff it.
func TestWriteResultsJSONMatchesEncoder(t *testing.T) {
	ops := func(n int) []idsync.Op {
		out := []idsync.Op{}
		for i := range n {
			a := &idsync.Account{ExternalID: fmt.Sprint("u", i), UserName: fmt.Sprintf("user%d@<acme>&co.test", i),
				DisplayName: "Zoë \u2028 \"quoted\"\n\t back\\slash\\", Active: i%2 == 0, Role: "reader"}
			op := idsync.Op{Connection: "acme", Kind: idsync.OpCreate, ObjectID: a.ExternalID, Account: a, Reason: "new\x01 \xff"}
			if i%3 == 0 {
				op.Kind, op.Prev = idsync.OpUpdate, &idsync.Account{ExternalID: a.ExternalID, UserName: "old"}
				op.Changes = []idsync.FieldChange{{Field: "title", Old: "a", New: "b"}}
			}
			if i%7 == 0 {
				op.Kind, op.Group, op.Members = idsync.OpMemberAdd, &idsync.GroupAccount{DisplayName: "G"}, []idsync.Member{{ExternalID: "m"}}
			}
			out = append(out, op)
		}
		return out
	}
	cases := map[string][]syncResult{
		"nil":     nil,
		"empty":   {},
		"no ops":  {{Connection: "acme", Source: "entra", Counts: idsync.Counts{}, Ops: []idsync.Op{}}},
		"nil ops": {{Connection: "acme", Source: "entra"}},
		"many ops, two results": {
			{Connection: "acme", Source: "entra", DryRun: true, Counts: idsync.Counts{idsync.OpCreate: 3}, Ops: ops(3*opsChunk + 17),
				Reconcile: &sync.Reconcile{}, Unapproved: ops(2), Error: "ops: \"ops\": []"},
			{Connection: "globex", Source: "okta", Ops: ops(1), Held: "held <because>"},
		},
	}
	for name, results := range cases {
		t.Run(name, func(t *testing.T) {
			var want, got bytes.Buffer
			if err := writeJSON(&want, map[string]any{"results": results}); err != nil {
				t.Fatal(err)
			}
			if err := writeResultsJSON(&got, results); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				w, g := want.String(), got.String()
				i := 0
				for i < len(w) && i < len(g) && w[i] == g[i] {
					i++
				}
				t.Fatalf("differs at byte %d:\nwant …%q\ngot  …%q", i, w[max(0, i-80):min(len(w), i+80)], g[max(0, i-80):min(len(g), i+80)])
			}
		})
	}
}
