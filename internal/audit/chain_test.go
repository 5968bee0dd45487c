package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 123456789, time.UTC)

// chain builds n sealed records of tenant, each linked to the one before.
func chain(t testing.TB, tenant string, n int) []Record {
	t.Helper()
	var out []Record
	var prev Hash
	for i := 1; i <= n; i++ {
		e := &Event{Tenant: tenant, Seq: int64(i), At: t0.Add(time.Duration(i) * time.Second),
			Actor:  Actor{Type: "api_token", ID: "tok_1", ClientIP: "192.0.2.7", UserAgent: "curl/8", RequestID: fmt.Sprint("req-", i)},
			Action: "user.updated", TargetType: "user", TargetID: fmt.Sprint("usr_", i), Outcome: Success,
			Details: map[string]any{"changed": []string{"given_name"}, "n": i}}
		r, err := Seal(e, prev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		prev = r.Hash
	}
	return out
}

func verifyAll(tenant string, from Anchor, recs []Record, head Anchor) Result {
	v := NewVerifier(tenant, from)
	for i := range recs {
		if !v.Add(&recs[i]) {
			break
		}
	}
	v.Reach(head, "the head")
	return v.Result(head)
}

func headOf(recs []Record) Anchor {
	last := recs[len(recs)-1]
	return Anchor{Seq: last.Seq, Hash: last.Hash}
}

// TestCanonicalEncodingIsPinned fixes the encoding: a change to it breaks
// every stored chain, so it must be a new version, never an edit.
func TestCanonicalEncodingIsPinned(t *testing.T) {
	r := Record{Tenant: "ten_1", Seq: 7, At: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		Actor:  Actor{Type: "user", ID: "usr_1", ClientIP: "2001:db8::1", UserAgent: "UA", RequestID: "r1"},
		Action: "user.created", TargetType: "user", TargetID: "usr_2", Outcome: Success, Details: []byte(`{"a":1}`)}
	r.Prev[0] = 0xab
	enc := r.AppendCanonical(nil)
	if !bytes.HasPrefix(enc, []byte("tessera-audit-event\x01\x00\x00\x00\x05ten_1\x00\x00\x00\x00\x00\x00\x00\x07")) {
		t.Errorf("encoding starts %q", enc[:40])
	}
	if !bytes.HasSuffix(enc, append([]byte("\x00\x00\x00\x07{\"a\":1}\xab"), make([]byte, 31)...)) {
		t.Errorf("encoding ends %q", enc[len(enc)-45:])
	}
	h, _ := r.Sum(nil)
	const want = "d401c91b040fc9d9a690d5491d0d38e06c499f9b00d8f4d66b84d1da90cffd4f"
	if h.String() != want {
		t.Logf("hash of the pinned record is %s", h)
		t.Errorf("the canonical encoding changed: bump encodingVersion instead of editing it")
	}
}

// TestCanonicalEncodingIsUnambiguous: moving bytes between neighbouring
// fields, or between a field and the details, changes the hash.
func TestCanonicalEncodingIsUnambiguous(t *testing.T) {
	base := Record{Tenant: "t", Seq: 1, At: t0, Actor: Actor{Type: "ab", ID: "c"}, Action: "x.y", Outcome: Success, Details: []byte("null")}
	variants := []func(r *Record){
		func(r *Record) { r.Actor.Type, r.Actor.ID = "a", "bc" },
		func(r *Record) { r.Actor.Type, r.Actor.ID = "abc", "" },
		func(r *Record) { r.Tenant, r.Actor.Type = "ta", "b" },
		func(r *Record) { r.Action, r.TargetType = "x.", "y" },
		func(r *Record) { r.Outcome, r.Details = "succes", []byte("snull") },
		func(r *Record) { r.Seq = 2 },
		func(r *Record) { r.At = r.At.Add(time.Microsecond) },
		func(r *Record) { r.Prev[31] = 1 },
	}
	seen := map[Hash]int{}
	h, _ := base.Sum(nil)
	seen[h] = -1
	for i, mutate := range variants {
		r := base
		mutate(&r)
		h, _ := r.Sum(nil)
		if j, dup := seen[h]; dup {
			t.Errorf("variant %d hashes like variant %d", i, j)
		}
		seen[h] = i
	}
}

func TestCanonicalDetails(t *testing.T) {
	type policy struct {
		Zeta  int    `json:"zeta"`
		Alpha string `json:"alpha"`
	}
	for _, tc := range []struct {
		name string
		in   map[string]any
		want string
	}{
		{"nil", nil, `null`},
		{"empty", map[string]any{}, `{}`},
		{"sorted at every depth", map[string]any{"b": 1, "a": map[string]any{"z": true, "y": []any{map[string]any{"d": 1, "c": 2}}}},
			`{"a":{"y":[{"c":2,"d":1}],"z":true},"b":1}`},
		{"struct fields sorted", map[string]any{"setting": policy{Zeta: 1, Alpha: "x"}}, `{"setting":{"alpha":"x","zeta":1}}`},
		{"numbers as first written", map[string]any{"big": int64(1) << 60, "f": 1e21, "m": 1000000, "h": 0.5},
			`{"big":1152921504606846976,"f":1e+21,"h":0.5,"m":1000000}`},
		{"html escaped", map[string]any{"ua": "<script>&"}, `{"ua":"\u003cscript\u003e\u0026"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CanonicalDetails(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			again, err := CanonicalJSON(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("not a fixed point: %s -> %s, %v", got, again, err)
			}
		})
	}
	if _, err := CanonicalDetails(map[string]any{"x": math.NaN()}); err == nil {
		t.Errorf("NaN accepted")
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"a":1} {}`, `{`} {
		if _, err := CanonicalJSON([]byte(bad)); err == nil {
			t.Errorf("CanonicalJSON(%s) accepted", bad)
		}
	}
}

func TestSealCleansText(t *testing.T) {
	e := &Event{Tenant: "t", Seq: 1, At: t0, Actor: Actor{UserAgent: "bad\xff\x00ua"}, Action: "a.b", Outcome: Success}
	r, err := Seal(e, Hash{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Actor.UserAgent != "bad\uFFFD\uFFFDua" {
		t.Errorf("user agent %q", r.Actor.UserAgent)
	}
	if !r.At.Equal(t0.Truncate(time.Microsecond)) || !e.At.Equal(r.At) {
		t.Errorf("at %v, event at %v", r.At, e.At)
	}
	// The JSON form reads back to the very record.
	b, _ := json.Marshal(r.Line())
	var l Line
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	back := l.Record()
	if h, _ := back.Sum(nil); h != r.Hash || back.Unreadable != "" {
		t.Errorf("line round trip changed the record: %+v", back)
	}
}

func TestVerifierAcceptsAGoodChain(t *testing.T) {
	recs := chain(t, "ten_a", 20)
	if res := verifyAll("ten_a", Anchor{}, recs, headOf(recs)); !res.OK || res.Checked != 20 || res.Last != headOf(recs) {
		t.Fatalf("good chain: %+v", res)
	}
	// From an anchor (the database after archiving): the suffix verifies.
	from := Anchor{Seq: recs[9].Seq, Hash: recs[9].Hash}
	if res := verifyAll("ten_a", from, recs[10:], headOf(recs)); !res.OK || res.Checked != 10 {
		t.Fatalf("suffix from anchor: %+v", res)
	}
	// An empty log at the genesis.
	if res := verifyAll("ten_a", Anchor{}, nil, Anchor{}); !res.OK {
		t.Fatalf("empty log: %+v", res)
	}
}

// TestVerifierNamesTheFirstBadEvent tampers with an in-memory chain in
// every way and expects the exact seq (the store's tamper tests do the same
// through SQL).
func TestVerifierNamesTheFirstBadEvent(t *testing.T) {
	const n, k = 12, 5 // tamper at seq k (index k-1)
	edits := map[string]func(r *Record){
		"tenant":      func(r *Record) { r.Tenant = "ten_other" },
		"at":          func(r *Record) { r.At = r.At.Add(time.Second) },
		"actor_type":  func(r *Record) { r.Actor.Type = "user" },
		"actor_id":    func(r *Record) { r.Actor.ID = "tok_2" },
		"client_ip":   func(r *Record) { r.Actor.ClientIP = "198.51.100.1" },
		"user_agent":  func(r *Record) { r.Actor.UserAgent = "other" },
		"request_id":  func(r *Record) { r.Actor.RequestID = "req-x" },
		"action":      func(r *Record) { r.Action = "user.deleted" },
		"target_type": func(r *Record) { r.TargetType = "group" },
		"target_id":   func(r *Record) { r.TargetID = "usr_x" },
		"outcome":     func(r *Record) { r.Outcome = Failure },
		"details":     func(r *Record) { r.Details = []byte(`{"changed":["family_name"],"n":5}`) },
		"prev_hash":   func(r *Record) { r.Prev[0] ^= 1 },
		"hash":        func(r *Record) { r.Hash[0] ^= 1 },
	}
	for field, edit := range edits {
		t.Run("edit "+field, func(t *testing.T) {
			recs := chain(t, "ten_a", n)
			edit(&recs[k-1])
			res := verifyAll("ten_a", Anchor{}, recs, headOf(chain(t, "ten_a", n)))
			if res.OK || res.BadSeq != k {
				t.Fatalf("got %+v, want bad seq %d", res, k)
			}
		})
	}
	t.Run("edit and rehash", func(t *testing.T) {
		recs := chain(t, "ten_a", n)
		recs[k-1].Action = "user.deleted"
		recs[k-1].Hash, _ = recs[k-1].Sum(nil)
		// The forged event verifies alone; the next one no longer links to it.
		if res := verifyAll("ten_a", Anchor{}, recs, headOf(recs)); res.OK || res.BadSeq != k+1 ||
			!strings.Contains(res.Reason, "does not link") {
			t.Fatalf("got %+v, want a broken link at %d", res, k+1)
		}
	})
	t.Run("delete", func(t *testing.T) {
		recs := chain(t, "ten_a", n)
		head := headOf(recs)
		recs = append(recs[:k-1], recs[k:]...)
		if res := verifyAll("ten_a", Anchor{}, recs, head); res.OK || res.BadSeq != k || !strings.Contains(res.Reason, "missing") {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("insert", func(t *testing.T) {
		// A forged event at k, later events renumbered: the forged one
		// links and hashes (the attacker knows the algorithm), the next does not.
		recs := chain(t, "ten_a", n)
		forged, _ := Seal(&Event{Tenant: "ten_a", Seq: k, At: t0, Action: "user.created", Outcome: Success}, recs[k-2].Hash)
		var out []Record
		out = append(out, recs[:k-1]...)
		out = append(out, forged)
		for _, r := range recs[k-1:] {
			r.Seq++
			out = append(out, r)
		}
		if res := verifyAll("ten_a", Anchor{}, out, headOf(recs)); res.OK || res.BadSeq != k+1 {
			t.Fatalf("got %+v", res)
		}
		// A naive insert (no valid link) is named itself.
		out[k-1].Prev[0] ^= 1
		if res := verifyAll("ten_a", Anchor{}, out, headOf(recs)); res.OK || res.BadSeq != k {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("reorder", func(t *testing.T) {
		recs := chain(t, "ten_a", n)
		recs[k-1], recs[k] = recs[k], recs[k-1]
		recs[k-1].Seq, recs[k].Seq = recs[k].Seq, recs[k-1].Seq
		if res := verifyAll("ten_a", Anchor{}, recs, headOf(chain(t, "ten_a", n))); res.OK || res.BadSeq != k {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("truncate tail", func(t *testing.T) {
		recs := chain(t, "ten_a", n)
		res := verifyAll("ten_a", Anchor{}, recs[:n-3], headOf(recs))
		if res.OK || res.BadSeq != n-2 || !strings.Contains(res.Reason, "tail cut") {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("beyond head", func(t *testing.T) {
		recs := chain(t, "ten_a", n)
		if res := verifyAll("ten_a", Anchor{}, recs, Anchor{Seq: n - 1, Hash: recs[n-2].Hash}); res.OK || res.BadSeq != n {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		recs := chain(t, "ten_a", n)
		recs[k-1].Unreadable = "hash is missing"
		if res := verifyAll("ten_a", Anchor{}, recs, headOf(recs)); res.OK || res.BadSeq != k {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("another tenant's chain", func(t *testing.T) {
		recs := chain(t, "ten_b", n)
		if res := verifyAll("ten_a", Anchor{}, recs, headOf(recs)); res.OK || res.BadSeq != 1 {
			t.Fatalf("got %+v", res)
		}
	})
}

func TestLineRecordProblems(t *testing.T) {
	l := chain(t, "ten_a", 1)[0].Line()
	l.At = "yesterday"
	l.Hash = "zz"
	if r := l.Record(); !strings.Contains(r.Unreadable, "at:") || !strings.Contains(r.Unreadable, "hash:") {
		t.Errorf("unreadable = %q", r.Unreadable)
	}
}

func TestHashText(t *testing.T) {
	h := chain(t, "ten_a", 1)[0].Hash
	var back Hash
	if err := back.UnmarshalText([]byte(h.String())); err != nil || back != h {
		t.Errorf("round trip: %v", err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 64)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

// BenchmarkVerify is the domain half of verification (the store benchmark
// adds reading rows): events/s over an in-memory chain.
func BenchmarkVerify(b *testing.B) {
	recs := chain(b, "ten_bench", 10_000)
	head := headOf(recs)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if res := verifyAll("ten_bench", Anchor{}, recs, head); !res.OK {
			b.Fatal(res.Reason)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(recs))/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSeal is the cost the chain adds to each append.
func BenchmarkSeal(b *testing.B) {
	e := &Event{Tenant: "ten_bench", Seq: 1, At: t0, Actor: Actor{Type: "api_token", ID: "tok_1", ClientIP: "192.0.2.7",
		UserAgent: "curl/8", RequestID: "req"}, Action: "user.updated", TargetType: "user", TargetID: "usr_1",
		Outcome: Success, Details: map[string]any{"changed": []string{"given_name", "family_name"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(e, Hash{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCanonicalDetailsFlatShortcut: details of strings, booleans, nils and
// integers skip the re-encoding; they must come out exactly as the long
// way gives them, whatever the text holds.
func TestCanonicalDetailsFlatShortcut(t *testing.T) {
	texts := []string{"", "plain", "<script>&'\"", "tab\there\nnew\x01\x7f", "\u2028\u2029", "ünïcödé ✓ 🙂",
		"\\back\\slash/", "invalid \xff utf-8", "nul \x00 byte", strings.Repeat("x", 300)}
	for i, s := range texts {
		for _, in := range []map[string]any{
			{"s": s},
			{s: "as a key"},
			{"z": s, "a": true, "m": nil, "n": -42, "u": uint64(math.MaxUint64), "i": int64(math.MinInt64), "t": false},
			{"sp_entity_id": "https://sp.example.com/" + s, "acs_url": s, "in_response_to": "_" + s, "test": true},
		} {
			got, err := CanonicalDetails(in)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := CanonicalJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("text %d, %v: shortcut gives %s, the long way %s", i, in, got, want)
			}
		}
	}
}
