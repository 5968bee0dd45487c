package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// MasterKeySize is the length of a master key: 256 bits for AES-256-GCM.
const MasterKeySize = 32

// sealVersion prefixes every sealed blob so a later key rotation can tell
// which key and scheme sealed it.
const sealVersion byte = 1

// ErrBadMasterKey is returned for a master key of the wrong size or encoding.
var ErrBadMasterKey = fmt.Errorf("master key must be %d bytes, base64 encoded: %w", MasterKeySize, errkind.Invalid)

// ErrUnseal means a sealed value was altered, truncated, or sealed under
// another key or context.
var ErrUnseal = errors.New("cannot unseal value: wrong key, context or corrupted data")

// MasterKey seals secrets at rest and derives purpose-bound subkeys.
type MasterKey struct {
	raw  []byte
	aead cipher.AEAD
}

// GenerateMasterKey returns a new random master key, base64 encoded as it is
// written to the key file.
func GenerateMasterKey() string {
	raw := make([]byte, MasterKeySize)
	_, _ = rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

// ParseMasterKey decodes a base64 master key (surrounding white space allowed).
func ParseMasterKey(encoded string) (*MasterKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil || len(raw) != MasterKeySize {
		return nil, ErrBadMasterKey
	}
	// The sealing key is itself derived so the raw key is used for nothing
	// directly and every purpose has an independent key.
	sealKey, err := hkdf.Key(sha256.New, raw, nil, "tessera seal v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &MasterKey{raw: raw, aead: aead}, nil
}

// Seal encrypts plaintext. context binds the blob to where it is stored (for
// example "tenant/ten_x/smtp-password"), so a blob copied to another row does
// not open there.
func (m *MasterKey) Seal(plaintext []byte, context string) []byte {
	nonce := make([]byte, m.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte{sealVersion}, nonce...)
	return m.aead.Seal(out, nonce, plaintext, []byte(context))
}

// Open decrypts a blob made by Seal with the same context.
func (m *MasterKey) Open(sealed []byte, context string) ([]byte, error) {
	n := m.aead.NonceSize()
	if len(sealed) < 1+n+m.aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	pt, err := m.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}

// Digester computes keyed digests for one purpose. High-entropy secrets such
// as API tokens are stored as HMAC-SHA256 digests: a slow password hash buys
// nothing for 256-bit random values, and the key keeps a stolen table useless.
type Digester struct{ key []byte }

// Digester returns the keyed digester for purpose ("api-token", ...).
func (m *MasterKey) Digester(purpose string) Digester {
	k, err := hkdf.Key(sha256.New, m.raw, nil, "tessera digest v1 "+purpose, 32)
	if err != nil {
		panic(err) // only for an output length HKDF cannot give; 32 always works
	}
	return Digester{key: k}
}

// Digest returns HMAC-SHA256(key, secret), base64url encoded.
func (d Digester) Digest(secret string) string {
	mac := hmac.New(sha256.New, d.key)
	mac.Write([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
