package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// yieldAll streams recs like a store would.
func yieldAll(recs []Record) func(func(*Record) error) error {
	return func(yield func(*Record) error) error {
		for i := range recs {
			r := recs[i]
			if err := yield(&r); err != nil {
				return err
			}
		}
		return nil
	}
}

func writeTestArchive(t *testing.T, dir string, recs []Record, prev Hash) string {
	t.Helper()
	m := Manifest{Format: ArchiveFormat, TenantID: recs[0].Tenant, FirstSeq: recs[0].Seq, LastSeq: recs[len(recs)-1].Seq,
		PrevHash: prev.String(), CreatedAt: nowText(t0)}
	path, last, err := writeArchive(dir, m, yieldAll(recs))
	if err != nil {
		t.Fatal(err)
	}
	if last != headOf(recs) {
		t.Fatalf("writeArchive ended at %+v", last)
	}
	return path
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestArchiveFilesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	recs := chain(t, "ten_a", 30)
	p1 := writeTestArchive(t, dir, recs[:10], Hash{})
	p2 := writeTestArchive(t, dir, recs[10:25], recs[9].Hash)
	if filepath.Base(p1) != "00000000000000000001-00000000000000000010.ndjson" {
		t.Errorf("file name %s", filepath.Base(p1))
	}
	lines := readLines(t, p2)
	if len(lines) != 16 {
		t.Fatalf("%d lines, want a manifest and 15 events", len(lines))
	}
	var m Manifest
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m.FirstSeq != 11 || m.LastSeq != 25 || m.PrevHash != recs[9].Hash.String() {
		t.Errorf("manifest %+v, %v", m, err)
	}
	// The files verify from the genesis and leave the verifier at event 25;
	// the rest (the database's part) continues from there.
	v, n, err := verifyArchived(dir, "ten_a", 25)
	if err != nil || v.Broken() || n != 25 {
		t.Fatalf("verify archives: %v, %d events, %s", err, n, v.reason)
	}
	for i := range recs[25:] {
		v.Add(&recs[25+i])
	}
	if !v.Reach(headOf(recs), "the head") {
		t.Fatalf("across the boundary: %s", v.reason)
	}
	// A file above the anchor (an unfinished run) is not read.
	if v, n, _ := verifyArchived(dir, "ten_a", 10); v.Broken() || n != 10 {
		t.Fatalf("up to 10: %d events, %s", n, v.reason)
	}
	// Never replace an existing file.
	m.PrevHash = recs[9].Hash.String()
	if _, _, err := writeArchive(dir, m, yieldAll(recs[10:25])); err == nil {
		t.Errorf("writeArchive replaced an existing file")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".archive-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestArchiveRefusesABrokenChain(t *testing.T) {
	dir := t.TempDir()
	recs := chain(t, "ten_a", 10)
	recs[4].Action = "user.deleted"
	m := Manifest{Format: ArchiveFormat, TenantID: "ten_a", FirstSeq: 1, LastSeq: 10, PrevHash: Hash{}.String()}
	if _, _, err := writeArchive(dir, m, yieldAll(recs)); err == nil || !strings.Contains(err.Error(), "event 5") {
		t.Fatalf("archived a tampered chain: %v", err)
	}
	m.LastSeq = 11 // fewer events than planned
	if _, _, err := writeArchive(dir, m, yieldAll(chain(t, "ten_a", 10))); err == nil {
		t.Fatalf("archived a short range")
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("files left after refusals: %v", files)
	}
	boom := errors.New("database gone")
	m.LastSeq = 10
	if _, _, err := writeArchive(dir, m, func(func(*Record) error) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}

// TestArchiveTampering edits archive files and expects the exact seq.
func TestArchiveTampering(t *testing.T) {
	recs := chain(t, "ten_a", 20)
	setup := func(t *testing.T) (string, string, string) {
		dir := t.TempDir()
		p1 := writeTestArchive(t, dir, recs[:10], Hash{})
		p2 := writeTestArchive(t, dir, recs[10:], recs[9].Hash)
		return dir, p1, p2
	}
	edit := func(line, field, value string) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(line), &m)
		m[field] = value
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, p1, p2 string)
		bad    int64
	}{
		{"edit an action", func(t *testing.T, p1, _ string) {
			l := readLines(t, p1)
			l[4] = edit(l[4], "action", "user.deleted") // event 4
			writeLines(t, p1, l)
		}, 4},
		{"edit a user agent in the second file", func(t *testing.T, _, p2 string) {
			l := readLines(t, p2)
			l[3] = edit(l[3], "user_agent", "x") // event 13
			writeLines(t, p2, l)
		}, 13},
		{"delete a line", func(t *testing.T, p1, _ string) {
			l := readLines(t, p1)
			writeLines(t, p1, append(l[:7], l[8:]...)) // event 7
		}, 7},
		{"swap two lines", func(t *testing.T, _, p2 string) {
			l := readLines(t, p2)
			l[2], l[3] = l[3], l[2] // events 12 and 13
			writeLines(t, p2, l)
		}, 12},
		{"cut the tail of a file", func(t *testing.T, p1, _ string) {
			l := readLines(t, p1)
			writeLines(t, p1, l[:9]) // events 9 and 10 gone
		}, 9},
		{"remove a file", func(t *testing.T, p1, _ string) { os.Remove(p1) }, 1},
		{"garbage line", func(t *testing.T, p1, _ string) {
			l := readLines(t, p1)
			l[3] = "{not json"
			writeLines(t, p1, l)
		}, 3},
		{"manifest of another tenant", func(t *testing.T, _, p2 string) {
			l := readLines(t, p2)
			l[0] = edit(l[0], "tenant_id", "ten_b")
			writeLines(t, p2, l)
		}, 11},
		{"manifest prev_hash", func(t *testing.T, _, p2 string) {
			l := readLines(t, p2)
			l[0] = edit(l[0], "prev_hash", recs[3].Hash.String())
			writeLines(t, p2, l)
		}, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, p1, p2 := setup(t)
			tc.tamper(t, p1, p2)
			v, _, err := verifyArchived(dir, "ten_a", 20)
			if err != nil {
				t.Fatal(err)
			}
			v.Reach(headOf(recs), "the database's anchor")
			if res := v.Result(headOf(recs)); res.OK || res.BadSeq != tc.bad {
				t.Fatalf("got %+v, want bad seq %d", res, tc.bad)
			}
		})
	}
}

// The archive lines are exactly the JSON form: a reader with only the
// standard library can recompute every hash.
func TestArchiveLinesAreLines(t *testing.T) {
	dir := t.TempDir()
	recs := chain(t, "ten_a", 3)
	f, err := os.Open(writeTestArchive(t, dir, recs, Hash{}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	for i := 0; sc.Scan(); i++ {
		var l Line
		if err := strictUnmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		r := l.Record()
		if h, _ := r.Sum(nil); h != recs[i].Hash {
			t.Errorf("line %d hashes to %s", i, h)
		}
	}
}
