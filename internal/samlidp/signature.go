package samlidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"net/http"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Signature and digest algorithms accepted on requests, by their XML
// Signature URIs (RFC 6931 §2.1.3, §2.3); goxmldsig has no allow-list of its
// own. SHA-1 counts only where the application allows it: SHA-1 collisions
// are practical (SHAttered, 2017).
var (
	signatureMethods = map[string]signatureMethod{
		dsig.RSASHA256SignatureMethod:   {crypto.SHA256, false},
		dsig.RSASHA384SignatureMethod:   {crypto.SHA384, false},
		dsig.RSASHA512SignatureMethod:   {crypto.SHA512, false},
		dsig.ECDSASHA256SignatureMethod: {crypto.SHA256, true},
		dsig.ECDSASHA384SignatureMethod: {crypto.SHA384, true},
		dsig.ECDSASHA512SignatureMethod: {crypto.SHA512, true},
		dsig.RSASHA1SignatureMethod:     {crypto.SHA1, false},
	}
	digestMethods = map[string]crypto.Hash{
		"http://www.w3.org/2001/04/xmlenc#sha256":       crypto.SHA256,
		"http://www.w3.org/2001/04/xmldsig-more#sha384": crypto.SHA384,
		"http://www.w3.org/2001/04/xmlenc#sha512":       crypto.SHA512,
		"http://www.w3.org/2000/09/xmldsig#sha1":        crypto.SHA1,
	}
)

type signatureMethod struct {
	hash  crypto.Hash
	ecdsa bool // else RSA PKCS #1 v1.5
}

var errUnsigned = refuse(http.StatusBadRequest, "Unsigned sign-in request",
	"The application must sign its sign-in requests, and this one is not signed. Tell the application's administrator.")

// badSignature refuses a request whose signature does not hold.
func badSignature(why string) error {
	return refuse(http.StatusBadRequest, "Invalid signature",
		"The signature of the application's sign-in request is not valid ("+why+"). Tell the application's administrator.")
}

// acceptedSignature returns the accepted signature method alg.
func acceptedSignature(alg string, allowSHA1 bool) (signatureMethod, error) {
	m, ok := signatureMethods[alg]
	if !ok {
		return m, badSignature("unsupported algorithm " + truncate(alg, 100))
	}
	return m, acceptedHash(m.hash, allowSHA1)
}

// acceptedDigest checks the digest method alg.
func acceptedDigest(alg string, allowSHA1 bool) error {
	hash, ok := digestMethods[alg]
	if !ok {
		return badSignature("unsupported digest " + truncate(alg, 100))
	}
	return acceptedHash(hash, allowSHA1)
}

func acceptedHash(hash crypto.Hash, allowSHA1 bool) error {
	if hash == crypto.SHA1 && !allowSHA1 {
		return badSignature("SHA-1 is refused")
	}
	return nil
}

// verifyQuery checks an HTTP-Redirect binding signature (SAML bindings
// §3.4.4.1): over the query octets as sent, with the application's key.
func verifyQuery(m *message, cert *x509.Certificate, allowSHA1 bool, now time.Time) error {
	if m.sigAlg == "" || len(m.signature) == 0 {
		return errUnsigned
	}
	method, err := acceptedSignature(m.sigAlg, allowSHA1)
	if err != nil {
		return err
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return badSignature("the application's certificate is not valid now")
	}
	d := method.hash.New()
	d.Write([]byte(m.signedOctets))
	sum := d.Sum(nil)
	ok := false
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		ok = !method.ecdsa && rsa.VerifyPKCS1v15(pub, method.hash, sum, m.signature) == nil
	case *ecdsa.PublicKey:
		// XML Signature's ECDSA value is r and s concatenated (RFC 4050
		// §3.3), each as wide as the curve.
		n := (pub.Curve.Params().BitSize + 7) / 8
		if method.ecdsa && len(m.signature) == 2*n {
			r, s := new(big.Int).SetBytes(m.signature[:n]), new(big.Int).SetBytes(m.signature[n:])
			ok = ecdsa.Verify(pub, sum, r, s)
		}
	}
	if !ok {
		return badSignature("it does not match the application's certificate")
	}
	return nil
}

// verifyEnveloped checks an HTTP-POST binding request's enveloped XML
// signature (SAML core §5.4) and returns the element it covers, the only
// one to read from. The one Signature must be a child of the request and
// reference it alone, with accepted algorithms; goxmldsig then checks the
// digest and the signature with the application's certificate only, never
// a key the request brings along.
func verifyEnveloped(root *etree.Element, cert *x509.Certificate, allowSHA1 bool, now time.Time) (*etree.Element, error) {
	sigs := dsElements(root, dsig.SignatureTag, true)
	switch {
	case len(sigs) == 0:
		return nil, errUnsigned
	case len(sigs) > 1 || sigs[0].Parent() != root:
		return nil, badSignature("more than one signature, or one out of place")
	}
	sig := sigs[0]
	info := dsElements(sig, dsig.SignedInfoTag, false)
	if len(info) != 1 {
		return nil, badSignature("no single SignedInfo")
	}
	method := dsElements(info[0], dsig.SignatureMethodTag, false)
	refs := dsElements(info[0], dsig.ReferenceTag, false)
	if len(method) != 1 || len(refs) != 1 {
		return nil, badSignature("it must have one signature method and one reference")
	}
	if _, err := acceptedSignature(method[0].SelectAttrValue(dsig.AlgorithmAttr, ""), allowSHA1); err != nil {
		return nil, err
	}
	if uri := refs[0].SelectAttrValue(dsig.URIAttr, ""); uri != "#"+root.SelectAttrValue("ID", "") || uri == "#" {
		return nil, badSignature("it does not reference the request")
	}
	digests := dsElements(refs[0], dsig.DigestMethodTag, false)
	if len(digests) != 1 {
		return nil, badSignature("no single digest method")
	}
	if err := acceptedDigest(digests[0].SelectAttrValue(dsig.AlgorithmAttr, ""), allowSHA1); err != nil {
		return nil, err
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vc.Clock = dsig.NewFakeClockAt(now)
	signed, err := vc.Validate(root)
	if err != nil {
		return nil, badSignature("it does not match the application's certificate")
	}
	return signed, nil
}

// dsElements returns el's children (or, deep, all its descendants) that are
// XML Signature elements named tag.
func dsElements(el *etree.Element, tag string, deep bool) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == dsig.Namespace {
			out = append(out, c)
		}
		if deep {
			out = append(out, dsElements(c, tag, true)...)
		}
	}
	return out
}
