package audit

import (
	"fmt"
)

// Result is the outcome of verifying one tenant's chain.
type Result struct {
	Tenant string
	OK     bool
	// Checked counts the events whose links and hashes were recomputed;
	// Archived of them came from archive files.
	Checked  int64
	Archived int64
	From     Anchor // where verification started: zero, or the database's anchor
	Last     Anchor // the last event found good
	Head     Anchor // what the database's head says
	Anchor   Anchor // the database's anchor: the last archived event (zero: none)
	// BadSeq is the first event that is wrong or missing, and Reason says
	// how; both are zero when OK.
	BadSeq int64
	Reason string
}

// Verifier recomputes a chain event by event, in seq order, in constant
// memory: feed it records with Add, check the boundaries it must meet
// (archive manifests, the database's anchor, the head) with Reach, and read
// the Result. The first problem stops it; it names the first bad seq:
//
//   - a record whose hash differs from its recomputed hash was edited;
//   - a missing seq was deleted (or moved away to another tenant);
//   - a record whose prev_hash differs from the hash before it was inserted,
//     moved or stands after a rewritten event;
//   - a chain that ends before the head had its tail cut; one that goes past
//     it had events appended outside Tessera.
type Verifier struct {
	tenant  string
	from    Anchor
	pos     Anchor
	checked int64
	badSeq  int64
	reason  string
	buf     []byte
}

// NewVerifier starts verifying tenant's chain just after from (the zero
// Anchor for a chain from its first event).
func NewVerifier(tenant string, from Anchor) *Verifier {
	return &Verifier{tenant: tenant, from: from, pos: from, buf: make([]byte, 0, 1024)}
}

// Broken reports whether a problem was found.
func (v *Verifier) Broken() bool { return v.reason != "" }

// Position is the last event found good (or the start).
func (v *Verifier) Position() Anchor { return v.pos }

func (v *Verifier) fail(seq int64, format string, args ...any) bool {
	v.badSeq, v.reason = seq, fmt.Sprintf(format, args...)
	return false
}

// Add checks the next record and reports whether the chain still holds. r
// may be reused by the caller once Add returns.
func (v *Verifier) Add(r *Record) bool {
	if v.Broken() {
		return false
	}
	want := v.pos.Seq + 1
	switch {
	case r.Seq > want:
		if r.Seq == want+1 {
			return v.fail(want, "event %d is missing (the next event is %d): deleted or moved", want, r.Seq)
		}
		return v.fail(want, "events %d to %d are missing (the next event is %d): deleted or moved", want, r.Seq-1, r.Seq)
	case r.Seq < want:
		return v.fail(r.Seq, "event %d appears again after event %d: duplicated or out of order", r.Seq, v.pos.Seq)
	case r.Unreadable != "":
		return v.fail(r.Seq, "event %d cannot be read: %s", r.Seq, r.Unreadable)
	case r.Tenant != v.tenant:
		return v.fail(r.Seq, "event %d names tenant %q: moved from another tenant's log", r.Seq, r.Tenant)
	case r.Prev != v.pos.Hash:
		return v.fail(r.Seq, "event %d does not link to the event before it (prev_hash %s, want %s): "+
			"an event was inserted, moved or rewritten at this point", r.Seq, short(r.Prev), short(v.pos.Hash))
	}
	var h Hash
	h, v.buf = r.Sum(v.buf)
	if h != r.Hash {
		return v.fail(r.Seq, "event %d does not match its hash (stored %s, computed %s): edited", r.Seq, short(r.Hash), short(h))
	}
	v.pos = Anchor{Seq: r.Seq, Hash: r.Hash}
	v.checked++
	return true
}

// Reach checks that the chain so far ends exactly at a, which what (such as
// "the head" or "the database's anchor") says it should.
func (v *Verifier) Reach(a Anchor, what string) bool {
	if v.Broken() {
		return false
	}
	switch {
	case a.Seq > v.pos.Seq:
		return v.fail(v.pos.Seq+1, "the log ends at event %d but %s is event %d: events from %d on are missing (tail cut)",
			v.pos.Seq, what, a.Seq, v.pos.Seq+1)
	case a.Seq < v.pos.Seq:
		return v.fail(a.Seq+1, "event %d lies beyond %s (event %d): appended outside Tessera", a.Seq+1, what, a.Seq)
	case a.Hash != v.pos.Hash:
		return v.fail(a.Seq, "%s holds hash %s for event %d, the event has %s", what, short(a.Hash), a.Seq, short(v.pos.Hash))
	}
	return true
}

// Result reports the outcome; head is what the database's head says.
func (v *Verifier) Result(head Anchor) Result {
	return Result{Tenant: v.tenant, OK: !v.Broken(), Checked: v.checked, From: v.from, Last: v.pos, Head: head,
		BadSeq: v.badSeq, Reason: v.reason}
}

// short abbreviates a hash for messages.
func short(h Hash) string { return h.String()[:16] }
