package keys

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tessera-iam/tessera/internal/errkind"
)

func TestSealOpen(t *testing.T) {
	m, err := ParseMasterKey(GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ParseMasterKey(GenerateMasterKey())
	blob := m.Seal([]byte("s3cret"), "tenant/a/smtp")
	if bytes.Contains(blob, []byte("s3cret")) {
		t.Fatal("plaintext visible in sealed blob")
	}
	got, err := m.Open(blob, "tenant/a/smtp")
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	flipped := bytes.Clone(blob)
	flipped[len(flipped)-1] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"other context": func() ([]byte, error) { return m.Open(blob, "tenant/b/smtp") },
		"other key":     func() ([]byte, error) { return other.Open(blob, "tenant/a/smtp") },
		"tampered":      func() ([]byte, error) { return m.Open(flipped, "tenant/a/smtp") },
		"truncated":     func() ([]byte, error) { return m.Open(blob[:10], "tenant/a/smtp") },
		"empty":         func() ([]byte, error) { return m.Open(nil, "tenant/a/smtp") },
	} {
		if _, err := try(); !errors.Is(err, ErrUnseal) {
			t.Errorf("%s: err = %v, want ErrUnseal", name, err)
		}
	}
}

func TestParseMasterKeyRejectsBadKeys(t *testing.T) {
	for _, in := range []string{"", "not base64!", "c2hvcnQ=", GenerateMasterKey() + "AAAA"} {
		if _, err := ParseMasterKey(in); !errors.Is(err, errkind.Invalid) {
			t.Errorf("ParseMasterKey(%q) err = %v, want Invalid", in, err)
		}
	}
	if _, err := ParseMasterKey(" " + GenerateMasterKey() + "\n"); err != nil {
		t.Errorf("white space around a key: %v", err)
	}
}

func TestDigesterIsKeyedAndPurposeBound(t *testing.T) {
	m, _ := ParseMasterKey(GenerateMasterKey())
	other, _ := ParseMasterKey(GenerateMasterKey())
	a := m.Digester("api-token").Digest("tok")
	if a != m.Digester("api-token").Digest("tok") {
		t.Fatal("digest not deterministic")
	}
	if a == m.Digester("client-secret").Digest("tok") {
		t.Fatal("purposes share a key")
	}
	if a == other.Digester("api-token").Digest("tok") {
		t.Fatal("digest does not depend on the master key")
	}
}
