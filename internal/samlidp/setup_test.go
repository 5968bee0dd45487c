package samlidp_test

import (
	"crypto/tls"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
)

var (
	testFormAction = regexp.MustCompile(`<form method="post" action="([^"]*)" id="saml-test-post">`)
	testXML        = regexp.MustCompile(`(?s)<pre id="saml-xml">(.*?)</pre>`)
)

// testForm reads the test page a: the posting form (never auto-submitted)
// and the XML shown.
func (b *browser) testForm(a *answer) (posted, string) {
	b.t.Helper()
	act, res, x := testFormAction.FindStringSubmatch(a.body), responseField.FindStringSubmatch(a.body), testXML.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || act == nil || res == nil || x == nil {
		b.t.Fatalf("expected the test sign-in page, got %d at %s: %.800s", a.status, a.url, a.body)
	}
	if formAction.MatchString(a.body) || strings.Contains(a.body, "<script") {
		b.t.Fatalf("the test page posts by itself: %.800s", a.body)
	}
	p := posted{acs: html.UnescapeString(act[1]), response: html.UnescapeString(res[1])}
	if m := relayField.FindStringSubmatch(a.body); m != nil {
		p.relayState = html.UnescapeString(m[1])
	}
	return p, x[1]
}

// TestTestSignIn: the test sign-in runs the IdP-initiated flow for the
// signed-in user and, instead of posting, shows the response — escaped,
// with the name identifier and attribute values marked — and a button
// whose form posts the signed response, which the application accepts. It
// is audited as app.sso with test=true and refused like the real sign-in.
func TestTestSignIn(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		org := e.newOrg(t, `Acme <script>alert(1)</script> & "Co"`)
		ann := e.newUser(t, "ann", org.ID)
		s := e.newSP(t, "wiki", func(c *access.SAMLConfig) { c.RelayStateDefault = "/start" })
		e.assign(t, s.app.ID, ann, "approver")
		b := e.browser(t)
		testURL := e.page("/saml/test/" + string(s.app.ID))

		a := b.signIn(b.follow(b.get(testURL)), "ann")
		p, x := b.testForm(a)
		if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action https://wiki.example.com;") {
			t.Errorf("CSP %q", csp)
		}
		for _, want := range []string{
			`&gt;<mark>ann@example.com</mark>&lt;/saml:NameID&gt;`,             // the NameID
			`&gt;<mark>approver</mark>&lt;/saml:AttributeValue&gt;`,            // an attribute value
			`<mark>Acme &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;`, // XML-escaped, then HTML-escaped
			`&lt;saml:Assertion`, // the XML is shown as text
		} {
			if !strings.Contains(x, want) {
				t.Errorf("the test page lacks %q:\n%s", want, x)
			}
		}
		if strings.Contains(a.body, "<script>alert") {
			t.Fatal("user data reached the page unescaped")
		}
		if p.relayState != "/start" {
			t.Errorf("relay state %q", p.relayState)
		}
		if info := s.verify(t, p); info.NameID != "ann@example.com" || info.Values.Get("organization") != org.Name {
			t.Errorf("the application received %q %v", info.NameID, info.Values)
		}
		evs := e.events(t, s.app.ID)
		if len(evs) != 1 || evs[0].Outcome != audit.Success || !strings.Contains(string(evs[0].Details), `"test":true`) {
			t.Errorf("events %+v", evs)
		}

		// Encrypted: the XML shows the assertion encrypted, as sent; the
		// facts still show what it holds.
		sealed := e.newSP(t, "sealed", func(c *access.SAMLConfig) { c.EncryptAssertion = true })
		sealed.SPKeyStore = dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{sealed.cert}, PrivateKey: sealed.key})
		e.assign(t, sealed.app.ID, ann)
		sa := b.get(e.page("/saml/test/" + string(sealed.app.ID)))
		sp, sx := b.testForm(sa)
		if strings.Contains(sx, "ann@example.com") || !strings.Contains(sx, "EncryptedAssertion") ||
			!strings.Contains(sa.body, "<mark>ann@example.com</mark>") {
			t.Errorf("encrypted test page: %s", sa.body)
		}
		sealed.verify(t, sp)

		// Refused as the real sign-in is: no response, a failure event.
		other := e.newSP(t, "ledger", nil)
		noForm(t, b.get(e.page("/saml/test/"+string(other.app.ID))), http.StatusForbidden, "You do not have access to ledger")
		if !e.failed(t, other.app.ID, "not_assigned") {
			t.Errorf("events %+v", e.events(t, other.app.ID))
		}
		noForm(t, b.get(e.page("/saml/test/app_nosuch")), http.StatusNotFound, "no such SAML application")
	})
}
