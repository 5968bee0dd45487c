package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// ArchiveFormat names the archive file format; it is the first member of
// every archive file's manifest.
const ArchiveFormat = "tessera-audit-archive/1"

// Manifest is the first line of an archive file. The lines after it are the
// events FirstSeq to LastSeq in order, each a Line; PrevHash is the hash of
// the event before FirstSeq (the zero hash when FirstSeq is 1), so every
// file can be checked on its own and the files chain into each other and
// into the database's anchor.
type Manifest struct {
	Format    string `json:"format"`
	TenantID  string `json:"tenant_id"`
	FirstSeq  int64  `json:"first_seq"`
	LastSeq   int64  `json:"last_seq"`
	PrevHash  string `json:"prev_hash"`
	CreatedAt string `json:"created_at"`
}

// archiveName is the file name of an archive of events first to last; the
// fixed width makes name order seq order.
func archiveName(first, last int64) string { return fmt.Sprintf("%020d-%020d.ndjson", first, last) }

var archivePattern = regexp.MustCompile(`^([0-9]{20})-([0-9]{20})\.ndjson$`)

// archiveFile is one archive file found in a tenant's directory.
type archiveFile struct {
	name        string
	first, last int64
}

// listArchives returns a tenant directory's archive files in seq order; a
// missing directory holds none.
func listArchives(dir string) ([]archiveFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit archive: %w", err)
	}
	var out []archiveFile
	for _, e := range entries {
		m := archivePattern.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		var f archiveFile
		f.name = e.Name()
		// Decimal despite the leading zeros (fmt.Sscan would read octal).
		f.first, _ = strconv.ParseInt(m[1], 10, 64)
		f.last, _ = strconv.ParseInt(m[2], 10, 64)
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b archiveFile) int { return cmp.Compare(a.first, b.first) })
	return out, nil
}

// writeArchive writes m and the records each yields to dir as a new file,
// durably and atomically: a temporary file is written and fsynced, then
// linked to its final name (which fails rather than replace an existing
// file), and the directory is fsynced. It verifies the records as it writes
// them, from m's FirstSeq and PrevHash to LastSeq, and refuses to produce a
// file of a broken chain: archiving must never launder tampering.
func writeArchive(dir string, m Manifest, each func(yield func(*Record) error) error) (path string, last Anchor, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", Anchor{}, fmt.Errorf("create audit archive directory: %w", err)
	}
	prev, err := ParseHash(m.PrevHash)
	if err != nil {
		return "", Anchor{}, err
	}
	tmp, err := os.CreateTemp(dir, ".archive-*.tmp")
	if err != nil {
		return "", Anchor{}, fmt.Errorf("create audit archive file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	w := bufio.NewWriterSize(tmp, 1<<16)
	enc := json.NewEncoder(w)
	if err := enc.Encode(m); err != nil {
		return "", Anchor{}, err
	}
	v := NewVerifier(m.TenantID, Anchor{Seq: m.FirstSeq - 1, Hash: prev})
	err = each(func(r *Record) error {
		if !v.Add(r) {
			return errors.New(v.reason)
		}
		return enc.Encode(r.Line())
	})
	if err == nil && !v.Reach(Anchor{Seq: m.LastSeq, Hash: v.pos.Hash}, "the archive's planned end") {
		err = errors.New(v.reason)
	}
	if err != nil {
		return "", Anchor{}, fmt.Errorf("archive events %d to %d: %w", m.FirstSeq, m.LastSeq, err)
	}
	if err := w.Flush(); err != nil {
		return "", Anchor{}, fmt.Errorf("write audit archive: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", Anchor{}, fmt.Errorf("sync audit archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", Anchor{}, fmt.Errorf("close audit archive: %w", err)
	}
	path = filepath.Join(dir, archiveName(m.FirstSeq, m.LastSeq))
	if err := os.Link(tmp.Name(), path); err != nil {
		return "", Anchor{}, fmt.Errorf("name audit archive: %w", err)
	}
	if err := syncDir(dir); err != nil {
		os.Remove(path)
		return "", Anchor{}, err
	}
	return path, v.pos, nil
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync audit archive directory: %w", err)
	}
	return nil
}

// maxLine bounds one line of an archive file.
const maxLine = 16 << 20

// verifyArchive feeds one archive file to v, checking its manifest against
// the chain so far. It returns an error only when the file cannot be read;
// a file that does not verify breaks v.
func verifyArchive(path, tenant string, v *Verifier) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open audit archive: %w", err)
	}
	defer f.Close()
	name := filepath.Base(path)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), maxLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read audit archive %s: %w", name, err)
		}
		v.fail(v.pos.Seq+1, "archive file %s is empty", name)
		return nil
	}
	var m Manifest
	if err := strictUnmarshal(sc.Bytes(), &m); err != nil || m.Format != ArchiveFormat {
		v.fail(v.pos.Seq+1, "archive file %s does not start with a %s manifest", name, ArchiveFormat)
		return nil
	}
	prev, err := ParseHash(m.PrevHash)
	switch {
	case m.TenantID != tenant:
		v.fail(m.FirstSeq, "archive file %s belongs to tenant %q", name, m.TenantID)
		return nil
	case m.FirstSeq != v.pos.Seq+1:
		v.fail(v.pos.Seq+1, "archive file %s starts at event %d, the chain continues at event %d: archive files are missing or overlap",
			name, m.FirstSeq, v.pos.Seq+1)
		return nil
	case err != nil || prev != v.pos.Hash:
		v.fail(m.FirstSeq, "archive file %s does not continue the chain: its manifest's prev_hash differs from event %d's hash",
			name, v.pos.Seq)
		return nil
	}
	var l Line
	for n := 2; sc.Scan(); n++ {
		l = Line{Details: l.Details[:0]}
		if err := strictUnmarshal(sc.Bytes(), &l); err != nil {
			v.fail(v.pos.Seq+1, "archive file %s line %d is not an event: %v", name, n, err)
			return nil
		}
		r := l.Record()
		if !v.Add(&r) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read audit archive %s: %w", name, err)
	}
	v.Reach(Anchor{Seq: m.LastSeq, Hash: v.pos.Hash}, "the manifest of archive file "+name)
	return nil
}

// strictUnmarshal decodes one JSON object, refusing unknown members and
// trailing data: an archive line is not free-form.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data")
	}
	return nil
}

// nowText formats the time an archive is made.
func nowText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
