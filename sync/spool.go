package sync

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/idsync/idsync"
)

// pageSpool keeps a first sync's pages for the snapshot writer in an
// unlinked temporary file rather than on the heap. The pages are written
// to the snapshot only after the plan is made and while it is applied, so
// holding them as []idsync.Change kept ~70 MB live through planning, the
// outbox and the start of the apply of a 100,000-user first sync, and the
// heap's GC target doubled that. The file is removed as soon as it is
// created (Linux keeps it while it is open), so a run killed at any point
// leaves nothing behind; what it held is read again from the IdP by the
// next run, which finds no cursor.
type pageSpool struct {
	f     *os.File
	w     *bufio.Writer
	enc   *gob.Encoder
	pages int
}

func newPageSpool() (*pageSpool, error) {
	f, err := os.CreateTemp("", "idsync-first-*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary file for the first read's pages (set TMPDIR to a writable directory): %w", err)
	}
	_ = os.Remove(f.Name()) // best effort: where an open file cannot be removed, close removes it
	w := bufio.NewWriterSize(f, 256<<10)
	return &pageSpool{f: f, w: w, enc: gob.NewEncoder(w)}, nil
}

// put appends page.
func (s *pageSpool) put(page []idsync.Change) error {
	if err := s.enc.Encode(page); err != nil {
		return fmt.Errorf("spool page %d of the first read: %w", s.pages+1, err)
	}
	s.pages++
	return nil
}

// each calls f with every page in order, then closes the spool.
func (s *pageSpool) each(f func(page []idsync.Change) error) error {
	defer s.close()
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spool the first read's pages: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read back the first read's pages: %w", err)
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.f, 256<<10))
	for i := range s.pages {
		var page []idsync.Change
		if err := dec.Decode(&page); err != nil {
			return fmt.Errorf("read back page %d of the first read: %w", i+1, err)
		}
		if err := f(page); err != nil {
			return err
		}
	}
	return nil
}

// close releases the file; a spool never read back is closed this way.
func (s *pageSpool) close() {
	if s == nil || s.f == nil {
		return
	}
	name := s.f.Name()
	s.f.Close()
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = err // removed at creation on Linux; elsewhere best effort
	}
	s.f = nil
}
