package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/idsync/idsync"
)

// TestPrintOpsLinesAsFmt: the op lines printOps builds by hand are the
// lines fmt's "  %s %-*s %-*s %s\n" made (widths count runes, names are
// cleaned).
func TestPrintOpsLinesAsFmt(t *testing.T) {
	var ops []idsync.Op
	for i, name := range []string{"alice@acme.test", "Zoë Ünïcödé@acme.test", "evil\x1b[31m@acme.test", strings.Repeat("long", 12) + "@acme.test", "日本語@acme.test"} {
		a := &idsync.Account{ExternalID: fmt.Sprint("u", i), UserName: name, Role: "writer"}
		ops = append(ops, idsync.Op{Kind: idsync.OpCreate, Account: a, Reason: "in scope"})
		ops = append(ops, idsync.Op{Kind: idsync.OpDisable, Prev: a})
	}
	ops = append(ops, idsync.Op{Kind: idsync.OpMemberAdd, Group: &idsync.GroupAccount{DisplayName: "Ëngineering"},
		Members: []idsync.Member{{ExternalID: "u1"}, {ExternalID: "u2"}}})
	r := syncResult{Connection: "acme", Source: "entra", Ops: ops, Counts: idsync.Counts{idsync.OpCreate: 5}}

	var got bytes.Buffer
	printOps(&got, r)
	lines := strings.SplitAfter(got.String(), "\n")
	opLines := strings.Join(lines[1:1+len(ops)], "")

	nameWidth, wordWidth := 24, 8
	for _, op := range ops {
		_, word, _ := describeOp(op)
		nameWidth, wordWidth = max(nameWidth, len(shown(op.Name()))+2), max(wordWidth, len(word))
	}
	var want bytes.Buffer
	for _, op := range ops {
		sign, word, detail := describeOp(op)
		fmt.Fprintf(&want, "  %s %-*s %-*s %s\n", sign, wordWidth, word, nameWidth, shown(op.Name()), detail)
	}
	if opLines != want.String() {
		t.Fatalf("op lines\n got:\n%s\nwant:\n%s", opLines, want.String())
	}
}
