package samlidp_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tessera-iam/tessera/internal/access"
)

// rawRequest is an unsigned AuthnRequest written by hand, for what no
// well-behaved service provider would send.
func rawRequest(issuer, id, destination string, instant time.Time, attrs string) []byte {
	return fmt.Appendf(nil, `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" `+
		`xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="%s" Version="2.0" IssueInstant="%s" Destination="%s" %s>`+
		`<saml:Issuer>%s</saml:Issuer></samlp:AuthnRequest>`, id, instant.UTC().Format(time.RFC3339), destination, attrs, issuer)
}

// redirect sends an unsigned request by the HTTP-Redirect binding.
func (b *browser) redirect(xml []byte) *answer {
	b.t.Helper()
	return b.get(b.e.page("/saml/sso?SAMLRequest=" + url.QueryEscape(deflateBase64(b.t, xml))))
}

// TestRequestRefusals sends requests Tessera must refuse before it trusts
// anything they say: each gets an error page, never a redirect or a form
// toward an address the request names.
func TestRequestRefusals(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		s := e.newSP(t, "shop", nil)
		signed := e.newSP(t, "vault", func(c *access.SAMLConfig) { c.WantSignedRequests = true })
		for _, x := range []*sp{s, signed} {
			e.assign(t, x.app.ID, ann)
		}
		sso := e.page("/saml/sso")
		now := e.clk.Now()
		b := e.browser(t)
		b.form(b.signIn(b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, ""), "ann"))

		// both sends r by both bindings and expects the refusal.
		both := func(t *testing.T, x *sp, status int, says string) {
			t.Helper()
			for _, binding := range []string{saml2.BindingHttpRedirect, saml2.BindingHttpPost} {
				noForm(t, b.start(x, x.newRequest(t, binding), binding, ""), status, says)
			}
		}
		t.Run("unknown issuer", func(t *testing.T) {
			x := s.like(t, func(x *saml2.SAMLServiceProvider) { x.ServiceProviderIssuer = "https://unknown.example.com/saml" })
			both(t, x, http.StatusBadRequest, "not registered with")
		})
		t.Run("unregistered endpoint", func(t *testing.T) {
			x := s.like(t, func(x *saml2.SAMLServiceProvider) {
				x.AssertionConsumerServiceURL = "https://evil.example.com/saml/acs"
			})
			both(t, x, http.StatusBadRequest, "has not registered")
		})
		t.Run("javascript endpoint", func(t *testing.T) {
			x := s.like(t, func(x *saml2.SAMLServiceProvider) {
				x.AssertionConsumerServiceURL = "javascript:alert(document.domain)"
			})
			both(t, x, http.StatusBadRequest, "has not registered")
		})
		t.Run("endpoint by index", func(t *testing.T) {
			req := func(index string) []byte {
				return rawRequest(s.config.EntityID, "_idx"+index+randomID(), sso, now, `AssertionConsumerServiceIndex="`+index+`"`)
			}
			if p := b.form(b.redirect(req("1"))); p.acs != s.config.ACS[1].URL {
				t.Errorf("index 1 answered at %q", p.acs)
			}
			noForm(t, b.redirect(req("7")), http.StatusBadRequest, "index it has not registered")
			noForm(t, b.redirect(rawRequest(s.config.EntityID, randomID(), sso, now,
				`AssertionConsumerServiceIndex="1" AssertionConsumerServiceURL="`+s.config.ACS[1].URL+`"`)), http.StatusBadRequest, "both by index")
		})
		t.Run("unsupported binding", func(t *testing.T) {
			noForm(t, b.redirect(rawRequest(s.config.EntityID, randomID(), sso, now,
				`ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"`)), http.StatusBadRequest, "only HTTP-POST")
		})
		t.Run("unsigned where signatures are required", func(t *testing.T) {
			x := signed.like(t, func(x *saml2.SAMLServiceProvider) { x.SignAuthnRequests = false })
			both(t, x, http.StatusBadRequest, "this one is not signed")
		})
		t.Run("signed by another key", func(t *testing.T) {
			other, cert := newCertificate(t, "mallory")
			x := signed.like(t, func(x *saml2.SAMLServiceProvider) {
				if err := x.SetSPSigningKeyStore(&saml2.KeyStore{Signer: other, Cert: cert}); err != nil {
					t.Fatal(err)
				}
			})
			both(t, x, http.StatusBadRequest, "does not match the application")
		})
		t.Run("SHA-1", func(t *testing.T) {
			x := signed.like(t, func(x *saml2.SAMLServiceProvider) { x.SignAuthnRequestsAlgorithm = dsig.RSASHA1SignatureMethod })
			both(t, x, http.StatusBadRequest, "SHA-1 is refused")
		})
		t.Run("query changed after signing", func(t *testing.T) {
			u := signed.redirectURL(t, signed.newRequest(t, saml2.BindingHttpRedirect), "a")
			noForm(t, b.get(strings.Replace(u, "RelayState=a", "RelayState=b", 1)), http.StatusBadRequest, "does not match")
			noForm(t, b.get(u+"&SigAlg=x"), http.StatusBadRequest, "appears twice")
		})
		t.Run("XML changed after signing", func(t *testing.T) {
			r := signed.newRequest(t, saml2.BindingHttpPost)
			r.doc.Root().CreateAttr("AssertionConsumerServiceURL", signed.config.ACS[1].URL)
			noForm(t, b.postForm(sso, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(r.xml(t))}}, false),
				http.StatusBadRequest, "does not match")
		})
		t.Run("signature out of place", func(t *testing.T) {
			r := signed.newRequest(t, saml2.BindingHttpPost)
			root := r.doc.Root()
			sig := root.SelectElement("Signature")
			root.RemoveChild(sig)
			root.SelectElement("NameIDPolicy").AddChild(sig)
			noForm(t, b.postForm(sso, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(r.xml(t))}}, false),
				http.StatusBadRequest, "out of place")
		})
		t.Run("replayed request", func(t *testing.T) {
			r := s.newRequest(t, saml2.BindingHttpRedirect)
			u := s.redirectURL(t, r, "")
			b.form(b.get(u))
			noForm(t, b.get(u), http.StatusBadRequest, "already received")
			fresh := e.browser(t) // held for a sign-in, then replayed
			r2 := s.newRequest(t, saml2.BindingHttpPost)
			if a := fresh.start(s, r2, saml2.BindingHttpPost, ""); !a.onSignIn() {
				t.Fatalf("first use: %d %s", a.status, a.url)
			}
			noForm(t, fresh.start(s, r2, saml2.BindingHttpPost, ""), http.StatusBadRequest, "already received")
		})
		t.Run("stale, early or misaddressed", func(t *testing.T) {
			old := now.Add(-5*time.Minute - time.Duration(s.config.ClockSkewSeconds+5)*time.Second)
			noForm(t, b.redirect(rawRequest(s.config.EntityID, randomID(), sso, old, "")), http.StatusBadRequest, "too old")
			noForm(t, b.redirect(rawRequest(s.config.EntityID, randomID(), sso, now.Add(5*time.Minute), "")), http.StatusBadRequest, "in the future")
			noForm(t, b.redirect(rawRequest(s.config.EntityID, randomID(), e.url+"/t/other/saml/sso", now, "")), http.StatusBadRequest,
				"another destination")
			v11 := strings.Replace(string(rawRequest(s.config.EntityID, randomID(), sso, now, "")), `Version="2.0"`, `Version="1.1"`, 1)
			noForm(t, b.redirect([]byte(v11)), http.StatusBadRequest, "not SAML 2.0")
		})
		t.Run("oversized", func(t *testing.T) {
			big := make([]byte, 48<<10)
			_, _ = rand.Read(big)
			huge := base64.StdEncoding.EncodeToString(append(big, big...)) // over 64 KiB encoded
			noForm(t, b.get(sso+"?SAMLRequest="+url.QueryEscape(huge)), http.StatusRequestEntityTooLarge, "too large")
			noForm(t, b.postForm(sso, url.Values{"SAMLRequest": {huge}}, false), http.StatusRequestEntityTooLarge, "too large")
		})
		t.Run("deflate bomb", func(t *testing.T) {
			// 8 MiB of padding inflates from a few kilobytes.
			bomb := rawRequest(s.config.EntityID, randomID(), sso, now, `ProviderName="`+strings.Repeat("A", 8<<20)+`"`)
			enc := deflateBase64(t, bomb)
			if len(enc) > 64<<10 {
				t.Fatalf("the bomb is %d bytes encoded", len(enc))
			}
			noForm(t, b.get(sso+"?SAMLRequest="+url.QueryEscape(enc)), http.StatusRequestEntityTooLarge, "too large")
		})
		t.Run("document type declaration", func(t *testing.T) {
			doc := append([]byte(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>`),
				rawRequest(s.config.EntityID, randomID(), sso, now, "")...)
			noForm(t, b.redirect(doc), http.StatusBadRequest, "document type declaration")
		})
		t.Run("other tenant", func(t *testing.T) {
			if _, err := e.srv.Tenants.CreateTenant(e.ctx, "other", "Other"); err != nil {
				t.Fatal(err)
			}
			x := s.like(t, func(x *saml2.SAMLServiceProvider) { x.IdentityProviderSSOURL = e.url + "/t/other/saml/sso" })
			noForm(t, b.get(x.redirectURL(t, x.newRequest(t, saml2.BindingHttpRedirect), "")), http.StatusBadRequest,
				"not registered with Other")
		})
	})
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("_%x", b)
}
