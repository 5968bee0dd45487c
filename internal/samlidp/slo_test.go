package samlidp_test

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/page"
)

var requestField = regexp.MustCompile(`name="SAMLRequest" value="([^"]*)"`)

// newSLOSP registers an application with a single logout endpoint (POST
// binding, which gosaml2 can check) and sets up gosaml2 to use it and to
// sign its logout messages.
func (e *idp) newSLOSP(t *testing.T, name string) *sp {
	t.Helper()
	slo := "https://" + name + ".example.com/saml/slo"
	s := e.newSP(t, name, func(c *access.SAMLConfig) {
		c.SLO = &access.SAMLEndpoint{URL: slo, Binding: access.BindingHTTPPost}
	})
	s.ServiceProviderSLOURL = slo
	for _, ep := range e.metadata(t).IDPSSODescriptor.SingleLogoutServices {
		if ep.Binding == saml2.BindingHttpRedirect {
			s.IdentityProviderSLOURL = ep.Location
		}
	}
	if s.IdentityProviderSLOURL != e.page("/saml/slo") {
		t.Fatalf("the metadata gives the SLO endpoint %q", s.IdentityProviderSLOURL)
	}
	s.SignAuthnRequests = true
	return s
}

// signedInTo signs b in (when it is not yet) and has s receive an
// assertion, returning what s knows the user and the session by.
func (b *browser) signedInTo(s *sp, first bool) *saml2.AssertionInfo {
	b.t.Helper()
	a := b.follow(b.get(b.e.page("/saml/launch/" + string(s.app.ID))))
	if first {
		a = b.signIn(a, "ann")
	}
	return s.verify(b.t, b.form(a))
}

// sessionToken is the browser's Tessera session cookie.
func (b *browser) sessionToken() string {
	u, _ := url.Parse(b.e.page("/"))
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "tessera_session" {
			return c.Value
		}
	}
	return ""
}

// logoutRequest builds s's LogoutRequest for info's user and session.
func (s *sp) logoutRequest(t *testing.T, info *saml2.AssertionInfo, signed bool) *etree.Document {
	t.Helper()
	s.now()
	build := s.BuildLogoutRequestDocumentNoSig
	if signed {
		build = s.BuildLogoutRequestDocument
	}
	doc, err := build(info.NameID, info.SessionIndex)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// sendLogout has the browser deliver s's LogoutRequest by binding.
func (b *browser) sendLogout(s *sp, doc *etree.Document, binding, relayState string) *answer {
	b.t.Helper()
	if binding == saml2.BindingHttpRedirect {
		u, err := s.BuildLogoutURLRedirect(relayState, doc)
		if err != nil {
			b.t.Fatal(err)
		}
		return b.follow(b.get(u))
	}
	x, err := doc.WriteToBytes()
	if err != nil {
		b.t.Fatal(err)
	}
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(x)}}
	if relayState != "" {
		form.Set("RelayState", relayState)
	}
	return b.follow(b.postForm(b.e.page("/saml/slo"), form, false))
}

// loggedOut has s check the LogoutResponse form a carries: signed by the
// IdP, addressed to s, Success, answering requestID.
func (s *sp) loggedOut(t *testing.T, b *browser, a *answer, requestID, relayState string) {
	t.Helper()
	s.now()
	p := b.form(a)
	if p.acs != s.ServiceProviderSLOURL || p.relayState != relayState {
		t.Fatalf("logout response to %q with relay state %q", p.acs, p.relayState)
	}
	r, err := s.ValidateEncodedLogoutResponsePOST(p.response)
	if err != nil {
		t.Fatalf("the service provider refuses the logout response: %v", err)
	}
	if r.InResponseTo != requestID || !r.SignatureValidated {
		t.Fatalf("logout response answers %q (signed %v), want %q", r.InResponseTo, r.SignatureValidated, requestID)
	}
}

// logoutRequested has s check the LogoutRequest form a carries and
// answers it with a signed LogoutResponse, which the browser posts back.
func (s *sp) logoutRequested(t *testing.T, b *browser, a *answer, info *saml2.AssertionInfo) *answer {
	t.Helper()
	s.now()
	act, req := formAction.FindStringSubmatch(a.body), requestField.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || act == nil || req == nil {
		t.Fatalf("expected a logout request form, got %d at %s: %.500s", a.status, a.url, a.body)
	}
	if html.UnescapeString(act[1]) != s.ServiceProviderSLOURL {
		t.Fatalf("logout request to %q", act[1])
	}
	lr, err := s.ValidateEncodedLogoutRequestPOST(html.UnescapeString(req[1]))
	if err != nil {
		t.Fatalf("the service provider refuses the logout request: %v", err)
	}
	// gosaml2 does not read the SessionIndex: crewjam/saml's type does.
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(req[1]))
	if err != nil {
		t.Fatal(err)
	}
	var seen saml.LogoutRequest
	if err := xml.Unmarshal(raw, &seen); err != nil {
		t.Fatal(err)
	}
	if lr.NameID == nil || lr.NameID.Value != info.NameID || seen.SessionIndex == nil || seen.SessionIndex.Value != info.SessionIndex {
		t.Fatalf("logout request names %+v %+v, want %q %q", lr.NameID, seen.SessionIndex, info.NameID, info.SessionIndex)
	}
	relay := ""
	if m := relayField.FindStringSubmatch(a.body); m != nil {
		relay = html.UnescapeString(m[1])
	}
	doc, err := s.BuildLogoutResponseDocument(saml2.StatusCodeSuccess, lr.ID)
	if err != nil {
		t.Fatal(err)
	}
	x, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(x)}, "RelayState": {relay}}
	return b.follow(b.postForm(b.e.page("/saml/slo"), form, false))
}

// sloEvents lists the tenant's app.slo events for app.
func (e *idp) sloEvents(t *testing.T, app access.AppID) []audit.Record {
	t.Helper()
	p, err := e.srv.Audit.List(e.ctx, string(e.tenant), audit.Query{Request: page.Request{Limit: page.MaxLimit},
		Action: audit.ActionSLO, TargetType: audit.TargetApplication, TargetID: string(app)})
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

// TestSPInitiatedLogout ends the Tessera session from an application on
// both bindings: the session no longer validates, the application gets a
// signed LogoutResponse to its request with its RelayState, and the logout
// is audited.
func TestSPInitiatedLogout(t *testing.T) {
	for _, binding := range []string{saml2.BindingHttpRedirect, saml2.BindingHttpPost} {
		t.Run(binding[strings.LastIndex(binding, ":")+1:], func(t *testing.T) {
			eachIDP(t, func(t *testing.T, e *idp) {
				ann := e.newUser(t, "ann", "")
				s := e.newSLOSP(t, "crm")
				e.assign(t, s.app.ID, ann)
				b := e.browser(t)
				info := b.signedInTo(s, true)
				token := b.sessionToken()
				if _, err := e.srv.Sessions.Validate(e.ctx, e.tenant, token); err != nil {
					t.Fatal(err)
				}
				doc := s.logoutRequest(t, info, binding == saml2.BindingHttpPost)
				s.loggedOut(t, b, b.sendLogout(s, doc, binding, "back-to-crm"), doc.Root().SelectAttrValue("ID", ""), "back-to-crm")
				if _, err := e.srv.Sessions.Validate(e.ctx, e.tenant, token); err == nil {
					t.Fatal("the session survived the logout")
				}
				ev := e.sloEvents(t, s.app.ID)
				if len(ev) != 1 || ev[0].Outcome != audit.Success || !strings.Contains(string(ev[0].Details), `"initiated_by":"sp"`) {
					t.Fatalf("app.slo events %+v", ev)
				}
				// The request is accepted once.
				noForm(t, b.sendLogout(s, doc, binding, "back-to-crm"), http.StatusBadRequest, "already received")
			})
		})
	}
}

// TestLogoutPropagates ends the session from one application and tells
// the session's other application: it gets a LogoutRequest naming its user
// and session, and its LogoutResponse leads on to the answer to the first.
// The participant's LogoutResponse is accepted once.
func TestLogoutPropagates(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		crm, wiki := e.newSLOSP(t, "crm"), e.newSLOSP(t, "wiki")
		plain := e.newSP(t, "plain", nil) // no single logout: passed over
		for _, s := range []*sp{crm, wiki, plain} {
			e.assign(t, s.app.ID, ann)
		}
		b := e.browser(t)
		info := b.signedInTo(crm, true)
		wikiInfo := b.signedInTo(wiki, false)
		b.signedInTo(plain, false)
		token := b.sessionToken()

		doc := crm.logoutRequest(t, info, false)
		toWiki := b.sendLogout(crm, doc, saml2.BindingHttpRedirect, "")
		if _, err := e.srv.Sessions.Validate(e.ctx, e.tenant, token); err == nil {
			t.Fatal("the session survived the logout")
		}
		back := wiki.logoutRequested(t, b, toWiki, wikiInfo)
		crm.loggedOut(t, b, back, doc.Root().SelectAttrValue("ID", ""), "")
		if ev := e.sloEvents(t, wiki.app.ID); len(ev) != 1 || ev[0].Outcome != audit.Success {
			t.Fatalf("wiki's app.slo events %+v", ev)
		}

		// Replaying wiki's LogoutResponse (same InResponseTo, same
		// RelayState) is refused.
		rel := relayField.FindStringSubmatch(toWiki.body)
		if rel == nil {
			t.Fatal("no relay state in the logout request form")
		}
		req := requestField.FindStringSubmatch(toWiki.body)
		lr, err := wiki.ValidateEncodedLogoutRequestPOST(html.UnescapeString(req[1]))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := wiki.BuildLogoutResponseDocument(saml2.StatusCodeSuccess, lr.ID)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := resp.WriteToBytes()
		noForm(t, b.postForm(e.page("/saml/slo"), url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(x)},
			"RelayState": {html.UnescapeString(rel[1])}}, false), http.StatusBadRequest, "expired or was already completed")
	})
}

// TestIdPInitiatedLogout signs out at the portal: the sign-out hands the
// session over to the SAML logout, which reaches both applications in
// turn and ends on the signed-out page.
func TestIdPInitiatedLogout(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		crm, wiki := e.newSLOSP(t, "crm"), e.newSLOSP(t, "wiki")
		e.assign(t, crm.app.ID, ann)
		e.assign(t, wiki.app.ID, ann)
		b := e.browser(t)
		crmInfo := b.signedInTo(crm, true)
		wikiInfo := b.signedInTo(wiki, false)
		token := b.sessionToken()

		portal := b.get(e.page("/"))
		m := csrfField.FindStringSubmatch(portal.body)
		if m == nil {
			t.Fatalf("no sign-out form on the portal: %.500s", portal.body)
		}
		a := b.follow(b.postForm(e.page("/logout"), url.Values{"csrf": {html.UnescapeString(m[1])}}, true))
		if _, err := e.srv.Sessions.Validate(e.ctx, e.tenant, token); err == nil {
			t.Fatal("the session survived the sign-out")
		}
		// Both, in turn, in any order.
		infos := map[string]*saml2.AssertionInfo{crm.ServiceProviderSLOURL: crmInfo, wiki.ServiceProviderSLOURL: wikiInfo}
		sps := map[string]*sp{crm.ServiceProviderSLOURL: crm, wiki.ServiceProviderSLOURL: wiki}
		for range 2 {
			act := formAction.FindStringSubmatch(a.body)
			if act == nil || sps[html.UnescapeString(act[1])] == nil {
				t.Fatalf("expected a logout request form, got %d: %.500s", a.status, a.body)
			}
			to := html.UnescapeString(act[1])
			a = sps[to].logoutRequested(t, b, a, infos[to])
			delete(sps, to)
		}
		if a.status != http.StatusOK || !strings.Contains(a.body, "You are signed out.") {
			t.Fatalf("want the signed-out page, got %d: %.500s", a.status, a.body)
		}
		for _, s := range []*sp{crm, wiki} {
			if ev := e.sloEvents(t, s.app.ID); len(ev) != 1 || !strings.Contains(string(ev[0].Details), `"initiated_by":"idp"`) {
				t.Fatalf("app.slo events of %s: %+v", s.app.Name, ev)
			}
		}
	})
}

// TestLogoutRefusals: a LogoutRequest must be signed by the application's
// key and come from a registered application; a refusal ends nothing.
func TestLogoutRefusals(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		s := e.newSLOSP(t, "crm")
		e.assign(t, s.app.ID, ann)
		b := e.browser(t)
		info := b.signedInTo(s, true)
		token := b.sessionToken()

		// Unsigned, on both bindings.
		doc := s.logoutRequest(t, info, false)
		x, _ := doc.WriteToBytes()
		noForm(t, b.get(e.page("/saml/slo")+"?SAMLRequest="+url.QueryEscape(deflateBase64(t, x))), http.StatusBadRequest, "not signed")
		noForm(t, b.postForm(e.page("/saml/slo"), url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(x)}}, false),
			http.StatusBadRequest, "not signed")

		// Signed with another key.
		key, cert := newCertificate(t, "mallory")
		forged := s.like(t, func(x *saml2.SAMLServiceProvider) {
			if err := x.SetSPSigningKeyStore(&saml2.KeyStore{Signer: key, Cert: cert}); err != nil {
				t.Fatal(err)
			}
			x.IdentityProviderSLOURL = s.IdentityProviderSLOURL
		})
		noForm(t, b.sendLogout(forged, forged.logoutRequest(t, info, false), saml2.BindingHttpRedirect, ""),
			http.StatusBadRequest, "signature is not valid")
		noForm(t, b.sendLogout(forged, forged.logoutRequest(t, info, true), saml2.BindingHttpPost, ""),
			http.StatusBadRequest, "signature is not valid")

		// From an unknown issuer.
		stranger := s.like(t, func(x *saml2.SAMLServiceProvider) {
			x.ServiceProviderIssuer = "https://stranger.example.com/saml/metadata"
			x.IdentityProviderSLOURL = s.IdentityProviderSLOURL
		})
		noForm(t, b.sendLogout(stranger, stranger.logoutRequest(t, info, false), saml2.BindingHttpRedirect, ""),
			http.StatusBadRequest, "not registered")

		// SHA-1 without allow_sha1.
		sha1 := s.like(t, func(x *saml2.SAMLServiceProvider) {
			x.SignAuthnRequestsAlgorithm = dsig.RSASHA1SignatureMethod
			x.IdentityProviderSLOURL = s.IdentityProviderSLOURL
		})
		noForm(t, b.sendLogout(sha1, sha1.logoutRequest(t, info, false), saml2.BindingHttpRedirect, ""),
			http.StatusBadRequest, "signature is not valid")

		// Addressed elsewhere.
		elsewhere := s.like(t, func(x *saml2.SAMLServiceProvider) { x.IdentityProviderSLOURL = e.page("/saml/sso") })
		noForm(t, b.get(strings.Replace(mustLogoutURL(t, elsewhere, elsewhere.logoutRequest(t, info, false)),
			e.page("/saml/sso"), e.page("/saml/slo"), 1)), http.StatusBadRequest, "another destination")

		// A LogoutResponse nobody asked for.
		resp, err := s.BuildLogoutResponseDocument(saml2.StatusCodeSuccess, "_never-sent")
		if err != nil {
			t.Fatal(err)
		}
		rx, _ := resp.WriteToBytes()
		noForm(t, b.postForm(e.page("/saml/slo"), url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(rx)},
			"RelayState": {"made-up"}}, false), http.StatusBadRequest, "expired or was already completed")

		if _, err := e.srv.Sessions.Validate(e.ctx, e.tenant, token); err != nil {
			t.Fatalf("a refused logout ended the session: %v", err)
		}

		// Another user's logout ends nothing here, and is answered Success
		// all the same.
		other := *info
		other.NameID = "bob@example.com"
		doc = s.logoutRequest(t, &other, false)
		s.loggedOut(t, b, b.sendLogout(s, doc, saml2.BindingHttpRedirect, ""), doc.Root().SelectAttrValue("ID", ""), "")
		if _, err := e.srv.Sessions.Validate(e.ctx, e.tenant, token); err != nil {
			t.Fatalf("another user's logout ended the session: %v", err)
		}
		if ev := e.sloEvents(t, s.app.ID); len(ev) != 1 || ev[0].Outcome != audit.Failure ||
			!strings.Contains(string(ev[0].Details), "no_matching_session") {
			t.Fatalf("app.slo events %+v", ev)
		}
	})
}

func mustLogoutURL(t *testing.T, s *sp, doc *etree.Document) string {
	t.Helper()
	u, err := s.BuildLogoutURLRedirect("", doc)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestLogoutRedirectBinding propagates to a participant whose endpoint
// takes the HTTP-Redirect binding: the query is signed by the IdP's
// published key (SAML bindings §3.4.4.1); when it answers with a failure,
// the initiator is told PartialLogout. The messages validate against the
// SAML protocol schema.
func TestLogoutRedirectBinding(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		crm, wiki := e.newSLOSP(t, "crm"), e.newSLOSP(t, "wiki")
		cfg := *wiki.config
		cfg.SLO = &access.SAMLEndpoint{URL: wiki.ServiceProviderSLOURL, Binding: access.BindingHTTPRedirect}
		if _, err := e.srv.Access.SetSAMLConfig(e.ctx, e.sc(), wiki.app.ID, cfg, 0); err != nil {
			t.Fatal(err)
		}
		e.assign(t, crm.app.ID, ann)
		e.assign(t, wiki.app.ID, ann)
		b := e.browser(t)
		info := b.signedInTo(crm, true)
		wikiInfo := b.signedInTo(wiki, false)

		doc := crm.logoutRequest(t, info, true)
		x0, _ := doc.WriteToBytes()
		a := b.postForm(e.page("/saml/slo"), url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(x0)}}, false)
		if a.status != http.StatusSeeOther {
			t.Fatalf("want a redirect to continue with the cookie, got %d: %.300s", a.status, a.body)
		}
		a = b.get(a.location)
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, wiki.ServiceProviderSLOURL+"?") {
			t.Fatalf("want a redirect to wiki's endpoint, got %d to %q", a.status, a.location)
		}
		rawQuery := a.location[len(wiki.ServiceProviderSLOURL)+1:]
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			t.Fatal(err)
		}
		if q.Get("SigAlg") != dsig.RSASHA256SignatureMethod {
			t.Fatalf("SigAlg %q", q.Get("SigAlg"))
		}
		signedPart := rawQuery[:strings.Index(rawQuery, "&Signature=")]
		sig, err := base64.StdEncoding.DecodeString(q.Get("Signature"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(signedPart))
		verified := false
		for _, c := range wiki.IDPCertificateStore.(*dsig.MemoryX509CertificateStore).Roots {
			if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil {
				verified = true
			}
		}
		if !verified {
			t.Fatal("the query signature does not verify with the IdP's published certificates")
		}
		compressed, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
		if err != nil {
			t.Fatal(err)
		}
		x, err := io.ReadAll(flate.NewReader(bytes.NewReader(compressed)))
		if err != nil {
			t.Fatal(err)
		}
		var lr saml.LogoutRequest
		if err := xml.Unmarshal(x, &lr); err != nil {
			t.Fatal(err)
		}
		if lr.NameID.Value != wikiInfo.NameID || lr.SessionIndex.Value != wikiInfo.SessionIndex ||
			lr.Destination != wiki.ServiceProviderSLOURL || lr.Issuer.Value != wiki.IdentityProviderIssuer {
			t.Fatalf("logout request %+v", lr)
		}
		lint, haveLint := "", true
		if p, err := exec.LookPath("xmllint"); err == nil {
			lint = p
			validate(t, lint, protocolXSD, "logout-request", x)
		} else {
			haveLint = false
		}

		// wiki could not end its session.
		wiki.now()
		resp, err := wiki.BuildLogoutResponseDocument("urn:oasis:names:tc:SAML:2.0:status:Responder", lr.ID)
		if err != nil {
			t.Fatal(err)
		}
		rx, _ := resp.WriteToBytes()
		back := b.follow(b.postForm(e.page("/saml/slo"), url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(rx)},
			"RelayState": {q.Get("RelayState")}}, false))
		p := b.form(back)
		crm.now()
		if _, err := crm.ValidateEncodedLogoutResponsePOST(p.response); err != nil {
			t.Fatalf("crm refuses the logout response: %v", err)
		}
		raw, _ := base64.StdEncoding.DecodeString(p.response)
		var final saml.LogoutResponse
		if err := xml.Unmarshal(raw, &final); err != nil {
			t.Fatal(err)
		}
		if final.Status.StatusCode.StatusCode == nil || final.Status.StatusCode.StatusCode.Value != saml.StatusPartialLogout {
			t.Fatalf("status %+v, want PartialLogout", final.Status.StatusCode)
		}
		if haveLint {
			validate(t, lint, protocolXSD, "logout-response", raw)
		}
		if ev := e.sloEvents(t, wiki.app.ID); len(ev) != 1 || ev[0].Outcome != audit.Failure {
			t.Fatalf("wiki's app.slo events %+v", ev)
		}
	})
}
