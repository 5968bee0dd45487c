package samlidp_test

import (
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// start sends the browser to Tessera with r by binding, as the service
// provider's page would, and follows Tessera's redirects.
func (b *browser) start(s *sp, r *request, binding, relayState string) *answer {
	b.t.Helper()
	if binding == saml2.BindingHttpRedirect {
		return b.follow(b.get(s.redirectURL(b.t, r, relayState)))
	}
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(r.xml(b.t))}}
	if relayState != "" {
		form.Set("RelayState", relayState)
	}
	return b.follow(b.postForm(b.e.page("/saml/sso"), form, false))
}

// verify has the service provider check a response: signature with the
// IdP's published certificates, recipient, audience, validity.
func (s *sp) verify(t *testing.T, p posted) *saml2.AssertionInfo {
	t.Helper()
	s.now()
	if p.acs != s.AssertionConsumerServiceURL {
		t.Fatalf("posted to %q, want %q", p.acs, s.AssertionConsumerServiceURL)
	}
	info, err := s.RetrieveAssertionInfo(p.response)
	if err != nil {
		t.Fatalf("the service provider refuses the response: %v", err)
	}
	if info.WarningInfo.InvalidTime || info.WarningInfo.NotInAudience {
		t.Fatalf("the service provider warns: %+v", info.WarningInfo)
	}
	return info
}

// TestSPInitiatedSignIn has gosaml2 sign a user in through both bindings,
// with every signing choice: the request goes to the sign-in page and comes
// back as a response the service provider accepts, with the configured name
// identifier and attributes; the next request of the same browser is
// answered without signing in again.
func TestSPInitiatedSignIn(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		org := e.newOrg(t, "Acme Retail")
		ann := e.newUser(t, "ann", org.ID)
		g, err := e.srv.Groups.Create(e.ctx, e.sc(), group.NewGroup{Name: "Returns"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Groups.AddMember(e.ctx, e.sc(), g.ID, ann.ID); err != nil {
			t.Fatal(err)
		}
		signings := []struct {
			name                    string
			response, assertion, in bool // in: the service provider signs its requests
		}{
			{"response signed", true, false, false},
			{"assertion signed", false, true, true},
			{"both signed", true, true, false},
		}
		for _, binding := range []string{saml2.BindingHttpRedirect, saml2.BindingHttpPost} {
			for _, sg := range signings {
				name := strings.ReplaceAll(sg.name, " ", "-") + "-" + strings.ToLower(binding[strings.LastIndex(binding, "-")+1:])
				t.Run(name, func(t *testing.T) {
					s := e.newSP(t, name, func(c *access.SAMLConfig) {
						c.SignResponse, c.SignAssertion, c.WantSignedRequests = sg.response, sg.assertion, sg.in
					})
					e.assign(t, s.app.ID, ann, "approver", "viewer")
					b := e.browser(t)
					r := s.newRequest(t, binding)
					before := e.clk.Now()
					page := b.signIn(b.start(s, r, binding, "state-1"), "ann")
					p := b.form(page)
					if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action https://"+name+".example.com;") {
						t.Errorf("the form page's CSP: %s", csp)
					}
					if p.relayState != "state-1" {
						t.Errorf("relay state %q", p.relayState)
					}
					info := s.verify(t, p)
					if info.NameID != "ann@example.com" || info.NameIDFormat != access.NameIDFormatEmail {
						t.Errorf("name id %q (%s)", info.NameID, info.NameIDFormat)
					}
					want := map[string][]string{"urn:oid:0.9.2342.19200300.100.1.3": {"ann@example.com"}, "givenName": {"Ann"},
						"groups": {"Returns"}, "roles": {"approver", "viewer"}, "organization": {"Acme Retail"}}
					for k, v := range want {
						if got := info.Values.GetAll(k); !slices.Equal(got, v) {
							t.Errorf("attribute %s = %q, want %q", k, got, v)
						}
					}
					a := info.Assertions[0]
					if got := a.Subject.SubjectConfirmation.SubjectConfirmationData.InResponseTo; got != r.id {
						t.Errorf("InResponseTo %q, want %q", got, r.id)
					}
					if info.AuthnInstant == nil || !info.AuthnInstant.Equal(before.Truncate(time.Millisecond)) || info.SessionIndex == "" {
						t.Errorf("authn instant %v, session index %q", info.AuthnInstant, info.SessionIndex)
					}
					// One changed byte and the service provider refuses it.
					raw, _ := base64.StdEncoding.DecodeString(p.response)
					forged := strings.ReplaceAll(string(raw), "ann@example.com", "bob@example.com")
					if _, err := s.RetrieveAssertionInfo(base64.StdEncoding.EncodeToString([]byte(forged))); err == nil {
						t.Error("the service provider accepts a forged response")
					}
					resp := decodeResponse(t, p.response)
					if (resp.Signature != nil) != sg.response || (resp.Assertion.Signature != nil) != sg.assertion {
						t.Errorf("response signed %v, assertion signed %v", resp.Signature != nil, resp.Assertion.Signature != nil)
					}
					if resp.InResponseTo != r.id || resp.Destination != s.AssertionConsumerServiceURL {
						t.Errorf("response InResponseTo %q, Destination %q", resp.InResponseTo, resp.Destination)
					}

					// Signed in already: answered at once.
					r2 := s.newRequest(t, binding)
					p2 := b.form(b.start(s, r2, binding, ""))
					if p2.relayState != "" {
						t.Errorf("relay state %q on a request without one", p2.relayState)
					}
					if got := s.verify(t, p2); got.SessionIndex != info.SessionIndex {
						t.Errorf("session index changed within a session: %q, %q", info.SessionIndex, got.SessionIndex)
					}
					evs := e.events(t, s.app.ID)
					if len(evs) != 2 || evs[0].Outcome != audit.Success || !strings.Contains(string(evs[0].Details), `"protocol":"saml"`) ||
						!strings.Contains(string(evs[0].Details), s.config.EntityID) {
						t.Errorf("app.sso events: %+v", evs)
					}
				})
			}
		}
	})
}

// TestCrossSitePosts: the SSO endpoint takes POSTs from other sites (that
// is the HTTP-POST binding); the sign-in pages still refuse them.
func TestCrossSitePosts(t *testing.T) {
	e := newIDP(t, testkit.OpenSQLite(t))
	b := e.browser(t)
	noForm(t, b.postForm(e.page("/saml/sso"), url.Values{}, false), http.StatusBadRequest, "expects a SAML sign-in request")
	if a := b.postForm(e.page("/login/password"), url.Values{}, false); a.status != http.StatusForbidden {
		t.Errorf("cross-site sign-in post: %d", a.status)
	}
}

// TestEncryptedAssertion: with encryption on, the assertion travels
// encrypted to the application's certificate (nothing about the user in
// clear), and gosaml2 decrypts and verifies it, whichever is signed.
func TestEncryptedAssertion(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		for _, sg := range []struct {
			name                string
			response, assertion bool
		}{{"both-signed", true, true}, {"response-signed", true, false}, {"assertion-signed", false, true}} {
			t.Run(sg.name, func(t *testing.T) {
				s := e.newSP(t, "sealed-"+sg.name, func(c *access.SAMLConfig) {
					c.EncryptAssertion, c.SignResponse, c.SignAssertion = true, sg.response, sg.assertion
				})
				// gosaml2 v0.12.0 decrypts only with the SPKeyStore field.
				s.SPKeyStore = dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{s.cert}, PrivateKey: s.key})
				e.assign(t, s.app.ID, ann)
				b := e.browser(t)
				p := b.form(b.signIn(b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, ""), "ann"))
				raw, _ := base64.StdEncoding.DecodeString(p.response)
				if strings.Contains(string(raw), "ann@example.com") || !strings.Contains(string(raw), "EncryptedAssertion") {
					t.Fatalf("the assertion is not encrypted: %s", raw)
				}
				if info := s.verify(t, p); info.NameID != "ann@example.com" || info.Values.Get("givenName") != "Ann" {
					t.Errorf("decrypted: %q %v", info.NameID, info.Values)
				}
			})
		}
	})
}
