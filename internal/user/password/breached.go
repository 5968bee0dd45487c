package password

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
)

// maxBreachedLine is the longest line LoadBreached keeps; longer ones are
// skipped (no policy accepts such a password anyway).
const maxBreachedLine = 1024

// Breached is an operator-supplied list of known-breached passwords (one per
// line, like the SecLists / HIBP-derived plain lists). It is kept as a sorted
// slice of SHA-256 digests of the exact password, so memory is 32 bytes per
// entry; lookups are exact (no case folding, no trimming) by binary search.
// A Breached is immutable and safe for concurrent use.
type Breached struct {
	digests [][sha256.Size]byte
}

// LoadBreached reads one password per line. It skips blank lines and lines
// over 1024 bytes, strips a trailing "\r" (CRLF files) and a leading UTF-8
// byte-order mark, and keeps every other byte of a line as the password.
func LoadBreached(r io.Reader) (*Breached, error) {
	br := bufio.NewReaderSize(r, 4*maxBreachedLine)
	var ds [][sha256.Size]byte
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Far too long: drop the rest of the line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("password: load breached list: %w", err)
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if first {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			first = false
		}
		if len(line) > 0 && len(line) <= maxBreachedLine {
			ds = append(ds, sha256.Sum256(line))
		}
		if err != nil { // io.EOF
			break
		}
	}
	slices.SortFunc(ds, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	ds = slices.Compact(ds)
	if cap(ds)-len(ds) > len(ds)/8 { // give back append's spare capacity
		ds = append(make([][sha256.Size]byte, 0, len(ds)), ds...)
	}
	return &Breached{digests: ds}, nil
}

// Contains reports whether plain is on the list. A nil *Breached contains nothing.
func (b *Breached) Contains(plain string) bool {
	if b == nil {
		return false
	}
	d := sha256.Sum256([]byte(plain))
	_, found := slices.BinarySearchFunc(b.digests, d, func(e, t [sha256.Size]byte) int { return bytes.Compare(e[:], t[:]) })
	return found
}

// Len returns the number of distinct passwords on the list (0 for nil).
func (b *Breached) Len() int {
	if b == nil {
		return 0
	}
	return len(b.digests)
}
