package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	stdsync "sync"

	"github.com/idsync/idsync"
)

// writeResultsJSON writes {"results": results} exactly as writeJSON would
// (two-space indent, HTML-escaped, one trailing newline) without building
// the document in memory: a first sync of 100,000 users plans 100,000 ops,
// about 60 MB of JSON, which an Encoder buffers whole and then indents into
// a second buffer. Here each result is written around its ops, and the ops
// are encoded a chunk at a time, chunks in parallel, written in order.
func writeResultsJSON(w io.Writer, results []syncResult) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if results == nil {
		bw.WriteString("{\n  \"results\": null\n}\n")
		return bw.Flush()
	}
	if len(results) == 0 {
		bw.WriteString("{\n  \"results\": []\n}\n")
		return bw.Flush()
	}
	bw.WriteString("{\n  \"results\": [\n")
	for i, r := range results {
		ops := r.Ops
		r.Ops = []idsync.Op{} // "ops": [] marks where they go
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		var ind bytes.Buffer
		if err := json.Indent(&ind, b, "    ", "  "); err != nil {
			return err
		}
		// A newline byte is only ever indentation (strings escape theirs),
		// so this is the ops key of the result, not text inside a value.
		head, tail, ok := bytes.Cut(ind.Bytes(), []byte("\n      \"ops\": []"))
		if !ok {
			return errors.New("json output: ops not found in a result")
		}
		bw.WriteString("    ")
		bw.Write(head)
		bw.WriteString("\n      \"ops\": ")
		if err := writeOpsJSON(bw, ops); err != nil {
			return err
		}
		bw.Write(tail)
		if i < len(results)-1 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	bw.WriteString("  ]\n}\n")
	return bw.Flush()
}

// opsChunk is how many ops one encoding task takes.
const opsChunk = 512

// writeOpsJSON writes ops as the array at depth 3 of the results document.
func writeOpsJSON(w *bufio.Writer, ops []idsync.Op) error {
	switch {
	case ops == nil:
		w.WriteString("null")
		return nil
	case len(ops) == 0:
		w.WriteString("[]")
		return nil
	}
	w.WriteString("[\n")
	n := (len(ops) + opsChunk - 1) / opsChunk
	type chunk struct {
		buf  *bytes.Buffer
		err  error
		done chan struct{}
	}
	chunks := make([]*chunk, n)
	for i := range chunks {
		chunks[i] = &chunk{done: make(chan struct{})}
	}
	// At most 2 chunks per worker are encoded ahead of the writer.
	workers := max(1, runtime.GOMAXPROCS(0))
	ahead := make(chan struct{}, 2*workers)
	// The buffers of written chunks are used again: growing a fresh one
	// per chunk cost a third of the encoding's allocations.
	free := make(chan *bytes.Buffer, 2*workers+1)
	next := make(chan int)
	var wg stdsync.WaitGroup
	stop := make(chan struct{})
	defer func() { close(stop); wg.Wait() }()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var raw []byte
			for i := range next {
				c := chunks[i]
				select {
				case c.buf = <-free:
				default:
					c.buf = new(bytes.Buffer)
				}
				for j, op := range ops[i*opsChunk : min(len(ops), (i+1)*opsChunk)] {
					if j > 0 {
						c.buf.WriteString(",\n")
					}
					var err error
					if raw, err = appendJSON(raw[:0], op); err != nil {
						c.err = err
						break
					}
					c.buf.WriteString("        ")
					c.buf.Write(indentJSON(c.buf.AvailableBuffer(), raw, 4))
				}
				close(c.done)
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range n {
			select {
			case ahead <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case next <- i:
			case <-stop:
				return
			}
		}
	}()
	for i, c := range chunks {
		<-c.done
		<-ahead
		if c.err != nil {
			return c.err
		}
		if i > 0 {
			w.WriteString(",\n")
		}
		if _, err := w.Write(c.buf.Bytes()); err != nil {
			return err
		}
		c.buf.Reset()
		select {
		case free <- c.buf:
		default:
		}
		chunks[i] = nil // let it go
	}
	w.WriteString("\n      ]")
	return nil
}

// indentJSON appends compact, valid JSON src (as encoding/json writes it)
// to dst as json.Indent(dst, src, prefix, "  ") does with prefix depth
// times two spaces: a newline and indentation after an opening bracket and
// after a comma, ": " after a colon, empty objects and arrays kept as {}
// and []. It is a plain byte loop: json.Indent runs its full validating
// scanner over every byte, which cost most of --output json's time.
func indentJSON(dst, src []byte, depth int) []byte {
	const spaces = "\n                                                                " // 32 levels
	newline := func(d int) {
		if n := 1 + 2*d; n <= len(spaces) {
			dst = append(dst, spaces[:n]...)
			return
		}
		dst = append(dst, '\n')
		for range d {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"': // the whole string, up to its closing quote, in one copy
			j := i + 1
			for j < len(src) {
				if src[j] == '\\' {
					j += 2
					continue
				}
				if src[j] == '"' {
					break
				}
				j++
			}
			j = min(j, len(src)-1)
			dst = append(dst, src[i:j+1]...)
			i = j
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline(depth)
		case '}', ']':
			depth--
			newline(depth)
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline(depth)
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendJSON is json.Marshal into buf's storage (encoding/json's own
// escaping: HTML characters, invalid UTF-8, U+2028/U+2029).
func appendJSON(buf []byte, v any) ([]byte, error) {
	b := bytes.NewBuffer(buf)
	enc := json.NewEncoder(b)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
