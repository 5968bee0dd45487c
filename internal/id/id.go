// Package id mints the opaque string identifiers used by every domain.
//
// An identifier is a short type prefix and 26 base32 characters: 48 bits of
// millisecond time then 80 random bits (like a ULID), so identifiers sort by
// creation time, which keyset pagination relies on, and cannot be guessed.
// Domains wrap these strings in their own ID types so they cannot be swapped.
package id

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// Crockford's alphabet in lower case: no padding, no look-alike letters, and
// its order matches byte order, so the text sorts as the bytes do.
var encoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New returns prefix + "_" + a fresh time-ordered random identifier.
func New(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+).
	return prefix + "_" + encoding.EncodeToString(b[:])
}

// Valid reports whether s looks like an identifier with the given prefix. It
// lets edges refuse garbage before it reaches a query.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 26 {
		return false
	}
	_, err := encoding.DecodeString(rest)
	return err == nil
}
