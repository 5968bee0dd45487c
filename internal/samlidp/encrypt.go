package samlidp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"errors"

	"github.com/beevik/etree"
)

// XML Encryption names (XML Encryption 1.1 §5).
const (
	nsXMLEnc        = "http://www.w3.org/2001/04/xmlenc#"
	nsXMLDSig       = "http://www.w3.org/2000/09/xmldsig#"
	typeElement     = nsXMLEnc + "Element"
	algAES256GCM    = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	algRSAOAEPMGF1P = nsXMLEnc + "rsa-oaep-mgf1p"
	algSHA1         = nsXMLDSig + "sha1"
)

// encrypt wraps a (signed) assertion for the application's certificate, as
// an EncryptedAssertion (SAML core §2.3.4, §6.2): a fresh AES-256-GCM key
// encrypts the assertion (XML Encryption 1.1 §5.2.4: a 96-bit IV before the
// ciphertext, the 128-bit tag after it), and RSA-OAEP with SHA-1 as digest
// and MGF1 hash, the combination every SAML stack reads, carries the key.
// SHA-1 is harmless in OAEP, which needs no collision resistance. CBC is
// not offered: unauthenticated, it lets a decrypting service provider
// become a padding oracle. crewjam/saml's xmlenc is not used: its GCM
// encrypter seals zeros rather than the plaintext.
func encrypt(assertion *etree.Element, cert *x509.Certificate) (*etree.Element, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("the application's certificate has no RSA key to encrypt to")
	}
	plaintext, err := etree.NewDocumentWithRoot(assertion).WriteToBytes()
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(iv)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return nil, err
	}

	data := etree.NewElement("xenc:EncryptedData")
	data.CreateAttr("xmlns:xenc", nsXMLEnc)
	data.CreateAttr("Type", typeElement)
	data.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", algAES256GCM)
	info := data.CreateElement("ds:KeyInfo")
	info.CreateAttr("xmlns:ds", nsXMLDSig)
	ek := info.CreateElement("xenc:EncryptedKey")
	method := ek.CreateElement("xenc:EncryptionMethod")
	method.CreateAttr("Algorithm", algRSAOAEPMGF1P)
	method.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", algSHA1)
	// Names the key it was wrapped for, for a service provider with several.
	ek.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(cert.Raw))
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
	sealed := gcm.Seal(iv, iv, plaintext, nil)
	data.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(sealed))

	out := etree.NewElement("saml:EncryptedAssertion")
	out.AddChild(data)
	return out, nil
}
