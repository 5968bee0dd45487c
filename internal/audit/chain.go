package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Hash is a link of the chain: SHA-256 over an event's canonical encoding.
// The zero Hash is the genesis: the prev_hash of a tenant's first event.
type Hash [sha256.Size]byte

// String is the lower-case hex form used in JSON, CSV and archive files.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes h as hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash reads the hex form of a hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("hash %q: want %d hex digits", s, 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	return h, nil
}

// Anchor is a position in a tenant's chain: an event's seq and hash. The
// zero Anchor is the position before the first event.
type Anchor struct {
	Seq  int64
	Hash Hash
}

// Head is what the database keeps per tenant besides the events: the newest
// event (Last), and the position just before the oldest event still in the
// database (Anchor: zero until events are archived).
type Head struct {
	Last   Anchor
	Anchor Anchor
}

// Record is an event as the chain holds it: every field that is hashed, the
// details as canonical JSON text, and the links.
type Record struct {
	Tenant     string
	Seq        int64
	At         time.Time // UTC, microsecond precision
	Actor      Actor
	Action     string
	TargetType string
	TargetID   string
	Outcome    string
	Details    []byte // canonical JSON: "null" or an object with sorted keys
	Prev       Hash
	Hash       Hash
	// Unreadable is set by a reader when a stored value could not be read
	// (a missing or short hash, a bad time); verification reports it.
	Unreadable string
}

// encodingVersion is the first byte after the magic of the canonical
// encoding. A new encoding gets a new version; old events keep theirs.
const encodingVersion = 1

const magic = "tessera-audit-event"

// AppendCanonical appends the canonical encoding of r to b: the magic, the
// version, then every hashed field in a fixed order, strings and the details
// as a 4-byte big-endian length and their bytes, integers as 8 bytes big
// endian, and last the 32 bytes of prev_hash. Length prefixes make it
// unambiguous: no two different records encode alike.
func (r *Record) AppendCanonical(b []byte) []byte {
	b = append(b, magic...)
	b = append(b, encodingVersion)
	b = appendString(b, r.Tenant)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(r.At.UnixMicro()))
	for _, s := range [...]string{r.Actor.Type, r.Actor.ID, r.Actor.ClientIP, r.Actor.UserAgent, r.Actor.RequestID,
		r.Action, r.TargetType, r.TargetID, r.Outcome} {
		b = appendString(b, s)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Details)))
	b = append(b, r.Details...)
	return append(b, r.Prev[:]...)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// Sum computes r's hash, using buf as scratch space; it returns the hash and
// buf for reuse, so a loop allocates nothing.
func (r *Record) Sum(buf []byte) (Hash, []byte) {
	buf = r.AppendCanonical(buf[:0])
	return sha256.Sum256(buf), buf
}

// Seal turns an event into the record that follows prev: it fixes the
// event's time to microseconds (what both databases keep), makes every text
// valid UTF-8 without NUL bytes (what PostgreSQL TEXT and JSON can carry, so
// a stored or exported record reads back byte for byte), canonicalises the
// details and computes the hash. e.Seq must be set; e.At is updated.
func Seal(e *Event, prev Hash) (Record, error) {
	details, err := CanonicalDetails(e.Details)
	if err != nil {
		return Record{}, fmt.Errorf("audit details of %s: %w", e.Action, err)
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	r := Record{
		Tenant: clean(e.Tenant), Seq: e.Seq, At: e.At,
		Actor: Actor{Type: clean(e.Actor.Type), ID: clean(e.Actor.ID), ClientIP: clean(e.Actor.ClientIP),
			UserAgent: clean(e.Actor.UserAgent), RequestID: clean(e.Actor.RequestID)},
		Action: clean(e.Action), TargetType: clean(e.TargetType), TargetID: clean(e.TargetID), Outcome: clean(e.Outcome),
		Details: details, Prev: prev,
	}
	r.Hash, _ = r.Sum(nil)
	return r, nil
}

// clean replaces invalid UTF-8 and NUL bytes with U+FFFD.
func clean(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// CanonicalDetails encodes details as canonical JSON: no insignificant
// space, object keys sorted (at every depth, structs included), numbers
// written as they were first encoded. nil is "null".
func CanonicalDetails(details map[string]any) ([]byte, error) {
	if details == nil {
		return []byte("null"), nil
	}
	b, err := json.Marshal(details)
	if err != nil {
		return nil, err
	}
	if flat(details) {
		// Already canonical: encoding/json sorts a map's keys, and for these
		// values a decode and re-encode gives back the same bytes.
		return b, nil
	}
	return CanonicalJSON(b)
}

// flat reports whether details holds only valid UTF-8 strings (keys and
// values), booleans, nils and integers: the common case, whose json.Marshal
// output CanonicalJSON would leave as it is. Invalid UTF-8, floats, structs
// and nested values take the long way.
func flat(details map[string]any) bool {
	for k, v := range details {
		if !utf8.ValidString(k) {
			return false
		}
		switch v := v.(type) {
		case string:
			if !utf8.ValidString(v) {
				return false
			}
		case bool, nil, int, int64, int32, uint, uint64, uint32:
		default:
			return false
		}
	}
	return true
}

// CanonicalJSON rewrites JSON text in canonical form (see CanonicalDetails).
// Re-encoding through a generic value sorts the keys of every object;
// json.Number keeps each number's text.
func CanonicalJSON(text []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	if _, ok := v.(map[string]any); !ok && v != nil {
		return nil, errors.New("details must be a JSON object or null")
	}
	return json.Marshal(v)
}
