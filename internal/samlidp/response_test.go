package samlidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tessera-iam/tessera/internal/keys"
)

// TestSignedAssertionSentAsDigested: the assertion element is built once,
// signed in place and sent; the signature sits after the Issuer, the xs
// prefix that xsi:type values use is declared again (exclusive C14N drops
// it), and the assertion, serialized on its own and parsed back, verifies.
func TestSignedAssertionSentAsDigested(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	now := time.Now().UTC()
	as := &saml.Assertion{ID: newID(), IssueInstant: now, Version: "2.0", Issuer: saml.Issuer{Value: "https://idp.example.com"},
		Subject: &saml.Subject{NameID: &saml.NameID{Value: "ann"}},
		AttributeStatements: []saml.AttributeStatement{{Attributes: []saml.Attribute{{Name: "groups", NameFormat: attrNameFormatBasic,
			Values: []saml.AttributeValue{{Type: xsString, Value: "Buyers"}, {Type: xsString, Value: "Returns"}}}}}}}
	el := as.Element()
	sig, err := sign(el, &keys.Signer{Key: key, Certificate: cert}, dsig.RSASHA256SignatureMethod)
	if err != nil {
		t.Fatal(err)
	}
	insertSignature(el, sig)

	kids := el.ChildElements()
	if len(kids) < 2 || kids[0].Tag != "Issuer" || kids[1].Tag != "Signature" {
		t.Fatalf("children: %v", kids)
	}
	values := el.FindElements("//AttributeValue")
	if len(values) != 2 {
		t.Fatalf("%d attribute values", len(values))
	}
	for _, v := range values {
		if v.SelectAttrValue("xmlns:xs", "") != xsNamespace || v.SelectAttrValue("xsi:type", "") != xsString {
			t.Errorf("attribute value without its xs declaration: %v", v.Attr)
		}
	}

	b, err := etree.NewDocumentWithRoot(el).WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	v := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	if _, err := v.Validate(doc.Root()); err != nil {
		t.Fatalf("the assertion as sent does not verify: %v\n%s", err, b)
	}
	// Tampering shows.
	doc.Root().FindElement("//AttributeValue").SetText("Admins")
	if _, err := v.Validate(doc.Root()); err == nil {
		t.Error("a changed assertion verifies")
	}
}
