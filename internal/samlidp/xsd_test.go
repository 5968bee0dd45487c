package samlidp_test

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// Schemas under testdata/xsd (see its README): the OASIS SAML 2.0 schemas
// with the W3C XML Signature and Encryption schemas they import, all local.
const (
	protocolXSD = "testdata/xsd/saml-schema-protocol-2.0.xsd"
	metadataXSD = "testdata/xsd/saml-schema-metadata-2.0.xsd"
)

// xmllint returns the path of xmllint (Debian's libxml2-utils), skipping
// the test when it is absent, unless on CI, where its absence fails.
func xmllint(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("xmllint is required on CI (apt-get install libxml2-utils)")
		}
		t.Skip("xmllint not installed (apt-get install libxml2-utils)")
	}
	return p
}

// validate checks doc against schema with xmllint, without the network.
func validate(t *testing.T, lint, schema, name string, doc []byte) {
	t.Helper()
	if out, err := lintXML(t, lint, schema, name, doc); err != nil {
		t.Errorf("%s does not validate against %s: %v\n%s\n%s", name, filepath.Base(schema), err, out, doc)
	}
}

func lintXML(t *testing.T, lint, schema, name string, doc []byte) ([]byte, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return exec.Command(lint, "--noout", "--nonet", "--schema", schema, f).CombinedOutput()
}

// TestSchemaValid drives the real flows and validates what the IdP emits
// against the SAML 2.0 schemas: its metadata, and Responses with the
// assertion signed, the response signed, both, the assertion encrypted,
// and a NoPassive status.
func TestSchemaValid(t *testing.T) {
	lint := xmllint(t)
	// The check bites: a Response without IssueInstant and Status is not one.
	if _, err := lintXML(t, lint, protocolXSD, "invalid",
		[]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0"/>`)); err == nil {
		t.Fatal("xmllint accepts an invalid Response")
	}
	e := newIDP(t, testkit.OpenSQLite(t))

	res, err := http.Get(e.page("/saml/metadata"))
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(res.Body)
	res.Body.Close()
	validate(t, lint, metadataXSD, "metadata", md)

	ann := e.newUser(t, "ann", "")
	decoded := func(p posted) []byte {
		raw, err := base64.StdEncoding.DecodeString(p.response)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	b := e.browser(t)
	signedIn := false
	for _, c := range []struct {
		name                           string
		response, assertion, encrypted bool
	}{
		{"assertion-signed", false, true, false},
		{"response-signed", true, false, false},
		{"both-signed", true, true, false},
		{"encrypted", false, true, true},
	} {
		s := e.newSP(t, "xsd-"+c.name, func(sc *access.SAMLConfig) {
			sc.SignResponse, sc.SignAssertion, sc.EncryptAssertion = c.response, c.assertion, c.encrypted
		})
		if c.encrypted {
			s.SPKeyStore = dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{s.cert}, PrivateKey: s.key})
		}
		e.assign(t, s.app.ID, ann)
		a := b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, "")
		if !signedIn {
			a, signedIn = b.signIn(a, "ann"), true
		}
		p := b.form(a)
		s.verify(t, p)
		validate(t, lint, protocolXSD, c.name, decoded(p))
	}

	s := e.newSP(t, "xsd-passive", nil)
	s.IsPassive = true
	anon := e.browser(t)
	p := anon.form(anon.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, ""))
	validate(t, lint, protocolXSD, "nopassive", decoded(p))
}
