package password

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zitadel/passwap/argon2"
	"github.com/zitadel/passwap/bcrypt"
	"github.com/zitadel/passwap/pbkdf2"
	"github.com/zitadel/passwap/sha2"
	"github.com/zitadel/passwap/verifier"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Format identifies the scheme of an encoded password hash.
type Format string

// The formats Identify accepts and Hasher.Verify checks. Hasher.Hash writes
// FormatArgon2id only.
const (
	FormatArgon2id     Format = "argon2id"      // $argon2id$v=19$m=M,t=T,p=P$salt$tag (PHC, unpadded base64)
	FormatArgon2i      Format = "argon2i"       // $argon2i$v=19$m=M,t=T,p=P$salt$tag
	FormatBcrypt       Format = "bcrypt"        // $2a$CC$..., $2b$CC$..., $2y$CC$... (60 characters)
	FormatPBKDF2SHA1   Format = "pbkdf2-sha1"   // $pbkdf2$rounds$salt$dk (passlib pbkdf2_sha1)
	FormatPBKDF2SHA224 Format = "pbkdf2-sha224" // $pbkdf2-sha224$rounds$salt$dk
	FormatPBKDF2SHA256 Format = "pbkdf2-sha256" // $pbkdf2-sha256$rounds$salt$dk (passlib pbkdf2_sha256)
	FormatPBKDF2SHA384 Format = "pbkdf2-sha384" // $pbkdf2-sha384$rounds$salt$dk
	FormatPBKDF2SHA512 Format = "pbkdf2-sha512" // $pbkdf2-sha512$rounds$salt$dk (passlib pbkdf2_sha512)
	FormatSHA256Crypt  Format = "sha256-crypt"  // $5$[rounds=N$]salt$hash (crypt(3), Drepper)
	FormatSHA512Crypt  Format = "sha512-crypt"  // $6$[rounds=N$]salt$hash
	FormatSSHA         Format = "ssha"          // {SSHA}base64(sha1(pw||salt)||salt) (OpenLDAP)
	FormatSSHA256      Format = "ssha256"       // {SSHA256}base64(sha256(pw||salt)||salt)
	FormatSSHA512      Format = "ssha512"       // {SSHA512}base64(sha512(pw||salt)||salt)
)

// Bounds on imported hashes. The upper bounds stop a planted or mistyped hash
// from turning one verification into a denial of service; the lower bounds
// are the algorithms' own minimums, so weak legacy hashes still verify once
// and are upgraded.
const (
	maxEncodedLen = 512 // no accepted format comes close

	argon2MinMemory  = 8               // KiB; also at least 8×threads (RFC 9106)
	argon2MaxMemory  = 4 * 1024 * 1024 // KiB = 4 GiB
	argon2MaxTime    = 20
	argon2MaxThreads = 16
	argon2MinSalt    = 8 // bytes (RFC 9106)
	argon2MaxSalt    = 64
	argon2MinTag     = 16 // bytes; tags are a multiple of 8 bytes in this range
	argon2MaxTag     = 64

	bcryptMinCost = 4
	bcryptMaxCost = 15

	pbkdf2MinRounds = 1
	pbkdf2MaxRounds = 10_000_000
	pbkdf2MinSalt   = 1
	pbkdf2MaxSalt   = 64

	shaCryptMinRounds     = 1000 // smaller values are clamped by crypt(3) and never written
	shaCryptMaxRounds     = 10_000_000
	shaCryptDefaultRounds = 5000
	shaCryptMaxSalt       = 16

	sshaMinSalt = 4
	sshaMaxSalt = 64
)

const acceptedFormats = "accepted: argon2id and argon2i PHC strings ($argon2id$v=19$m=..,t=..,p=..$salt$hash), " +
	"bcrypt ($2a$, $2b$, $2y$), PBKDF2 ($pbkdf2$, $pbkdf2-sha224$, $pbkdf2-sha256$, $pbkdf2-sha384$, $pbkdf2-sha512$), " +
	"SHA-crypt ($5$, $6$), {SSHA}, {SSHA256}, {SSHA512}"

// Identify returns the format of encoded after checking its syntax strictly
// and its cost parameters against the bounds above. Every error is an
// errkind field error on field "hash".
func Identify(encoded string) (Format, error) {
	f, _, err := identify(encoded)
	return f, err
}

// identify is Identify that also returns encoded in the form passwap expects
// (only SHA-crypt without an explicit rounds field differs).
func identify(encoded string) (Format, string, error) {
	switch {
	case encoded == "":
		return "", "", errkind.Field("hash", "must not be empty; "+acceptedFormats)
	case len(encoded) > maxEncodedLen:
		return "", "", hashError("is longer than %d bytes", maxEncodedLen)
	case strings.HasPrefix(encoded, "$argon2"):
		f, err := checkArgon2(encoded)
		return f, encoded, err
	case strings.HasPrefix(encoded, "$2"):
		f, err := checkBcrypt(encoded)
		return f, encoded, err
	case strings.HasPrefix(encoded, "$pbkdf2"):
		f, err := checkPBKDF2(encoded)
		return f, encoded, err
	case strings.HasPrefix(encoded, "$5$"), strings.HasPrefix(encoded, "$6$"):
		return checkSHACrypt(encoded)
	case strings.HasPrefix(encoded, "{"):
		s, err := parseSSHA(encoded)
		if err != nil {
			return "", "", err
		}
		if s != nil {
			return s.format, encoded, nil
		}
	}
	return "", "", errkind.Field("hash", "unsupported format; "+acceptedFormats)
}

func hashError(format string, args ...any) error {
	return errkind.Field("hash", fmt.Sprintf(format, args...))
}

// The passwap verifiers, configured with our bounds. They are built per call
// (they are a few words each) so that the package holds no mutable state.
func argon2Opts() *argon2.ValidationOpts {
	return &argon2.ValidationOpts{
		MinTime: 1, MaxTime: argon2MaxTime,
		MinMemory: argon2MinMemory, MaxMemory: argon2MaxMemory,
		MinThreads: 1, MaxThreads: argon2MaxThreads,
	}
}

func bcryptVerifier() *bcrypt.Verifier {
	return bcrypt.NewVerifier(&bcrypt.ValidationOpts{MinCost: bcryptMinCost, MaxCost: bcryptMaxCost})
}

func pbkdf2Verifier() *pbkdf2.Verifier {
	return pbkdf2.NewVerifier(&pbkdf2.ValidationOpts{MinRounds: pbkdf2MinRounds, MaxRounds: pbkdf2MaxRounds})
}

func shaCryptVerifier() *sha2.Verifier {
	return sha2.NewVerifier(&sha2.ValidationOpts{
		MinSha256Rounds: shaCryptMinRounds, MaxSha256Rounds: shaCryptMaxRounds,
		MinSha512Rounds: shaCryptMinRounds, MaxSha512Rounds: shaCryptMaxRounds,
	})
}

// passwapBounds runs passwap's own parser and bound checks on a string our
// stricter parser accepted, so that Verify never meets a string passwap
// cannot handle.
func passwapBounds(f Format, v verifier.Verifier, encoded string) error {
	res, err := v.Validate(encoded)
	switch res {
	case verifier.OK:
		return nil
	case verifier.Fail:
		if be, ok := errors.AsType[*verifier.BoundsError](err); ok {
			return hashError("%s %s %d is outside %d..%d", f, be.Param, be.Actual, be.Min, be.Max)
		}
		return hashError("%s hash is refused: %v", f, err)
	default:
		return hashError("malformed %s hash", f)
	}
}

// parseDecimal parses a canonical unsigned decimal: digits only, no sign, no
// leading zero.
func parseDecimal(s string, bits int) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, bits)
	return n, err == nil
}

func checkArgon2(encoded string) (Format, error) {
	// "", id, v=19, m=..,t=..,p=.., salt, tag
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return "", hashError("malformed argon2 hash: want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	var f Format
	switch parts[1] {
	case "argon2id":
		f = FormatArgon2id
	case "argon2i":
		f = FormatArgon2i
	case "argon2d":
		return "", errkind.Field("hash", "argon2d is not supported; "+acceptedFormats)
	default:
		return "", errkind.Field("hash", "unsupported format; "+acceptedFormats)
	}
	if parts[2] != "v=19" {
		return "", hashError("%s version must be v=19", f)
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 || !strings.HasPrefix(kv[0], "m=") || !strings.HasPrefix(kv[1], "t=") || !strings.HasPrefix(kv[2], "p=") {
		return "", hashError("malformed %s parameters: want m=..,t=..,p=..", f)
	}
	m, okM := parseDecimal(kv[0][2:], 32)
	_, okT := parseDecimal(kv[1][2:], 32)
	p, okP := parseDecimal(kv[2][2:], 8)
	if !okM || !okT || !okP {
		return "", hashError("malformed %s parameters", f)
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < argon2MinSalt || len(salt) > argon2MaxSalt {
		return "", hashError("malformed %s salt: want %d..%d bytes of unpadded base64", f, argon2MinSalt, argon2MaxSalt)
	}
	tag, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(tag) < argon2MinTag || len(tag) > argon2MaxTag || len(tag)%8 != 0 {
		return "", hashError("malformed %s hash value: want 16, 24, ... or 64 bytes of unpadded base64", f)
	}
	if err := passwapBounds(f, argon2.NewVerifier(argon2Opts()), encoded); err != nil {
		return "", err
	}
	if m < 8*p {
		return "", hashError("%s memory must be at least 8×parallelism KiB", f)
	}
	return f, nil
}

// bcrypt's base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func checkBcrypt(encoded string) (Format, error) {
	if len(encoded) >= 4 && encoded[3] == '$' && strings.IndexByte("aby", encoded[2]) < 0 {
		return "", errkind.Field("hash", "unsupported format; "+acceptedFormats) // $2x$ and the like
	}
	// $2b$CC$ + 22 characters of salt + 31 characters of hash.
	if len(encoded) != 60 || encoded[3] != '$' || encoded[6] != '$' {
		return "", hashError("malformed bcrypt hash: want $2a$, $2b$ or $2y$, a two-digit cost and 53 characters")
	}
	if _, ok := parseDecimal(strings.TrimPrefix(encoded[4:6], "0"), 8); !ok {
		return "", hashError("malformed bcrypt cost")
	}
	for i := 7; i < len(encoded); i++ {
		if strings.IndexByte(bcryptAlphabet, encoded[i]) < 0 {
			return "", hashError("malformed bcrypt hash: invalid character")
		}
	}
	if err := passwapBounds(FormatBcrypt, bcryptVerifier(), encoded); err != nil {
		return "", err
	}
	return FormatBcrypt, nil
}

type pbkdf2Kind struct {
	format Format
	size   int // the PRF's digest size, which is the derived key length
}

func pbkdf2Lookup(id string) (pbkdf2Kind, bool) {
	switch id {
	case pbkdf2.IdentifierSHA1:
		return pbkdf2Kind{FormatPBKDF2SHA1, sha1.Size}, true
	case pbkdf2.IdentifierSHA224:
		return pbkdf2Kind{FormatPBKDF2SHA224, sha256.Size224}, true
	case pbkdf2.IdentifierSHA256:
		return pbkdf2Kind{FormatPBKDF2SHA256, sha256.Size}, true
	case pbkdf2.IdentifierSHA384:
		return pbkdf2Kind{FormatPBKDF2SHA384, sha512.Size384}, true
	case pbkdf2.IdentifierSHA512:
		return pbkdf2Kind{FormatPBKDF2SHA512, sha512.Size}, true
	}
	return pbkdf2Kind{}, false
}

// ab64 is passlib's "adapted base64": standard alphabet with '.' for '+', no
// padding. (A function rather than a package variable: no package state.)
func ab64() *base64.Encoding {
	return base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./").WithPadding(base64.NoPadding)
}

// decodePBKDF2 mirrors passwap's decoding: standard base64 when the field has
// a '+', passlib's adapted base64 otherwise; trailing '=' padding is ignored.
func decodePBKDF2(s string) ([]byte, error) {
	enc := ab64()
	if strings.ContainsRune(s, '+') {
		enc = base64.RawStdEncoding
	}
	trimmed := strings.TrimRight(s, "=")
	if len(s)-len(trimmed) > 2 {
		return nil, errors.New("bad padding")
	}
	return enc.DecodeString(trimmed)
}

func checkPBKDF2(encoded string) (Format, error) {
	// "", id, rounds, salt, dk
	parts := strings.Split(encoded, "$")
	if len(parts) != 5 {
		if len(parts) > 1 {
			if _, ok := pbkdf2Lookup(parts[1]); !ok {
				return "", errkind.Field("hash", "unsupported format; "+acceptedFormats)
			}
		}
		return "", hashError("malformed pbkdf2 hash: want $pbkdf2-sha256$rounds$salt$hash")
	}
	kind, ok := pbkdf2Lookup(parts[1])
	if !ok {
		return "", errkind.Field("hash", "unsupported format; "+acceptedFormats)
	}
	f := kind.format
	if _, ok := parseDecimal(parts[2], 32); !ok {
		return "", hashError("malformed %s rounds", f)
	}
	salt, err := decodePBKDF2(parts[3])
	if err != nil || len(salt) < pbkdf2MinSalt || len(salt) > pbkdf2MaxSalt {
		return "", hashError("malformed %s salt: want %d..%d bytes of base64", f, pbkdf2MinSalt, pbkdf2MaxSalt)
	}
	dk, err := decodePBKDF2(parts[4])
	if err != nil || len(dk) != kind.size {
		return "", hashError("malformed %s hash value: want %d bytes of base64", f, kind.size)
	}
	if err := passwapBounds(f, pbkdf2Verifier(), encoded); err != nil {
		return "", err
	}
	return f, nil
}

// crypt(3)'s base64 alphabet (SHA-crypt salts and hashes).
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func onlyCrypt64(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(cryptAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// checkSHACrypt also returns the string with an explicit rounds field: passwap
// compares the whole string and always writes "rounds=N", so the implicit
// default ("$5$salt$hash", what openssl and glibc write for 5000 rounds) is
// rewritten to "$5$rounds=5000$salt$hash", which has the same digest.
func checkSHACrypt(encoded string) (Format, string, error) {
	f, hashLen := FormatSHA256Crypt, 43
	if encoded[1] == '6' {
		f, hashLen = FormatSHA512Crypt, 86
	}
	parts := strings.Split(encoded, "$")
	normal := encoded
	switch {
	case len(parts) == 5 && strings.HasPrefix(parts[2], "rounds="):
		if _, ok := parseDecimal(strings.TrimPrefix(parts[2], "rounds="), 32); !ok {
			return "", "", hashError("malformed %s rounds", f)
		}
		parts = []string{parts[3], parts[4]}
	case len(parts) == 4:
		normal = fmt.Sprintf("$%c$rounds=%d$%s$%s", encoded[1], shaCryptDefaultRounds, parts[2], parts[3])
		parts = []string{parts[2], parts[3]}
	default:
		return "", "", hashError("malformed %s hash: want $%c$[rounds=N$]salt$hash", f, encoded[1])
	}
	salt, hash := parts[0], parts[1]
	if salt == "" || len(salt) > shaCryptMaxSalt || !onlyCrypt64(salt) {
		return "", "", hashError("malformed %s salt: want 1..%d characters of [./0-9A-Za-z]", f, shaCryptMaxSalt)
	}
	if len(hash) != hashLen || !onlyCrypt64(hash) {
		return "", "", hashError("malformed %s hash value: want %d characters of [./0-9A-Za-z]", f, hashLen)
	}
	if err := passwapBounds(f, shaCryptVerifier(), normal); err != nil {
		return "", "", err
	}
	return f, normal, nil
}
