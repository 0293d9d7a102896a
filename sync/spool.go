package sync

import (
	"bufio"
	"encoding/binary"
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
	buf   []byte
	pages int
}

func newPageSpool() (*pageSpool, error) {
	f, err := os.CreateTemp("", "idsync-first-*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary file for the first read's pages (set TMPDIR to a writable directory): %w", err)
	}
	_ = os.Remove(f.Name()) // best effort: where an open file cannot be removed, close removes it
	w := bufio.NewWriterSize(f, 256<<10)
	return &pageSpool{f: f, w: w}, nil
}

// put appends page.
func (s *pageSpool) put(page []idsync.Change) error {
	s.buf = appendPage(s.buf[:0], page)
	if _, err := s.w.Write(s.buf); err != nil {
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
	r := bufio.NewReaderSize(s.f, 256<<10)
	for i := range s.pages {
		page, err := readPage(r)
		if err != nil {
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

// The spool's encoding: per page a uvarint count of changes; per change a
// byte saying which of User, Group and Assignment it carries, then its
// strings, each a uvarint length and the bytes. gob cost ~0.5 s of a
// 100,000-user first sync's pull on two cores; this is a copy.

const (
	hasUser = 1 << iota
	hasGroup
	hasAssignment
)

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendPage(b []byte, page []idsync.Change) []byte {
	b = binary.AppendUvarint(b, uint64(len(page)))
	for _, c := range page {
		var flags byte
		if c.User != nil {
			flags |= hasUser
		}
		if c.Group != nil {
			flags |= hasGroup
		}
		if c.Assignment != nil {
			flags |= hasAssignment
		}
		b = append(b, flags)
		for _, s := range [...]string{string(c.Kind), c.ID, string(c.Removal), c.GroupID, c.MemberID, string(c.MemberKind), string(c.Sweep)} {
			b = appendStr(b, s)
		}
		if u := c.User; u != nil {
			for _, s := range [...]string{u.ID, u.UserName, u.Email, u.GivenName, u.FamilyName, u.DisplayName, u.EmployeeID, u.Title, u.Department, string(u.Status), string(u.Removed)} {
				b = appendStr(b, s)
			}
		}
		if g := c.Group; g != nil {
			for _, s := range [...]string{g.ID, g.Name, g.Description, string(g.Removed)} {
				b = appendStr(b, s)
			}
		}
		if a := c.Assignment; a != nil {
			for _, s := range [...]string{a.PrincipalID, string(a.PrincipalKind), a.Role} {
				b = appendStr(b, s)
			}
		}
	}
	return b
}

// pageReader decodes what appendPage wrote.
type pageReader struct {
	r   *bufio.Reader
	err error
}

func (p *pageReader) str() string {
	if p.err != nil {
		return ""
	}
	n, err := binary.ReadUvarint(p.r)
	if err != nil {
		p.err = err
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(p.r, b); err != nil {
		p.err = err
		return ""
	}
	return string(b)
}

func readPage(r *bufio.Reader) ([]idsync.Change, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	p := &pageReader{r: r}
	page := make([]idsync.Change, n)
	for i := range page {
		flags, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		c := &page[i]
		c.Kind, c.ID, c.Removal = idsync.ChangeKind(p.str()), p.str(), idsync.Removal(p.str())
		c.GroupID, c.MemberID, c.MemberKind, c.Sweep = p.str(), p.str(), idsync.MemberKind(p.str()), idsync.SweepScope(p.str())
		if flags&hasUser != 0 {
			c.User = &idsync.User{ID: p.str(), UserName: p.str(), Email: p.str(), GivenName: p.str(), FamilyName: p.str(),
				DisplayName: p.str(), EmployeeID: p.str(), Title: p.str(), Department: p.str(), Status: idsync.Status(p.str()),
				Removed: idsync.Removal(p.str())}
		}
		if flags&hasGroup != 0 {
			c.Group = &idsync.Group{ID: p.str(), Name: p.str(), Description: p.str(), Removed: idsync.Removal(p.str())}
		}
		if flags&hasAssignment != 0 {
			c.Assignment = &idsync.Assignment{PrincipalID: p.str(), PrincipalKind: idsync.MemberKind(p.str()), Role: p.str()}
		}
		if p.err != nil {
			return nil, p.err
		}
	}
	return page, nil
}
