package password

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"strings"

	"github.com/zitadel/passwap/verifier"
)

// ssha is a parsed OpenLDAP salted SHA hash: {SCHEME}base64(digest || salt).
type ssha struct {
	format Format
	newH   func() hash.Hash
	digest []byte
	salt   []byte
}

// parseSSHA returns nil, nil when encoded does not start with one of the
// SSHA scheme tags (matched case-insensitively, as OpenLDAP does), and an
// errkind field error when it does but the rest is malformed.
func parseSSHA(encoded string) (*ssha, error) {
	var s ssha
	var size int
	var body string
	switch {
	case hasPrefixFold(encoded, "{SSHA}"):
		s.format, s.newH, size, body = FormatSSHA, sha1.New, sha1.Size, encoded[len("{SSHA}"):]
	case hasPrefixFold(encoded, "{SSHA256}"):
		s.format, s.newH, size, body = FormatSSHA256, sha256.New, sha256.Size, encoded[len("{SSHA256}"):]
	case hasPrefixFold(encoded, "{SSHA512}"):
		s.format, s.newH, size, body = FormatSSHA512, sha512.New, sha512.Size, encoded[len("{SSHA512}"):]
	default:
		return nil, nil
	}
	// Padded standard base64, as OpenLDAP writes it: the padding catches
	// most truncations, which the format has no other way to detect.
	raw, err := base64.StdEncoding.Strict().DecodeString(body)
	if err != nil {
		return nil, hashError("malformed %s hash: want padded base64 of digest and salt", s.format)
	}
	if n := len(raw) - size; n < sshaMinSalt || n > sshaMaxSalt {
		return nil, hashError("malformed %s hash: want a %d-byte digest and a %d..%d-byte salt", s.format, size, sshaMinSalt, sshaMaxSalt)
	}
	s.digest, s.salt = raw[:size:size], raw[size:]
	return &s, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// sshaVerifier is a passwap verifier.Verifier for {SSHA}, {SSHA256} and
// {SSHA512}, which passwap lacks. It never asks for an update itself: the
// Swapper upgrades whatever a secondary verifier accepts.
type sshaVerifier struct{}

var _ verifier.Verifier = sshaVerifier{}

func (sshaVerifier) Validate(encoded string) (verifier.Result, error) {
	s, err := parseSSHA(encoded)
	if s == nil {
		return verifier.Skip, err
	}
	return verifier.OK, nil
}

func (sshaVerifier) Verify(encoded, password string) (verifier.Result, error) {
	s, err := parseSSHA(encoded)
	if s == nil {
		return verifier.Skip, err
	}
	h := s.newH()
	h.Write([]byte(password))
	h.Write(s.salt)
	if subtle.ConstantTimeCompare(h.Sum(nil), s.digest) != 1 {
		return verifier.Fail, nil
	}
	return verifier.OK, nil
}
