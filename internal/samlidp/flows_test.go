package samlidp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	saml2 "github.com/russellhaering/gosaml2"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/session"
)

// TestIdPInitiated opens an application from the portal: the tile leads to
// the launch, which goes through the sign-in and posts an unsolicited
// response to the default endpoint with the link's RelayState, or the
// application's default one.
func TestIdPInitiated(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		s := e.newSP(t, "wiki", func(c *access.SAMLConfig) {
			c.RelayStateDefault = "/home"
			c.NameIDFormat, c.NameIDSource = access.NameIDFormatPersistent, access.SourcePersistent
		})
		e.assign(t, s.app.ID, ann)
		b := e.browser(t)
		launch := e.page("/saml/launch/" + string(s.app.ID))
		p := b.form(b.signIn(b.follow(b.get(launch+"?RelayState="+url.QueryEscape("/pages/42"))), "ann"))
		if p.relayState != "/pages/42" {
			t.Errorf("relay state %q", p.relayState)
		}
		info := s.verify(t, p)
		if r := decodeResponse(t, p.response); r.InResponseTo != "" ||
			info.Assertions[0].Subject.SubjectConfirmation.SubjectConfirmationData.InResponseTo != "" {
			t.Error("an unsolicited response answers a request")
		}
		// A persistent name id is opaque, stable, and the application's own.
		if info.NameIDFormat != access.NameIDFormatPersistent || strings.Contains(info.NameID, "ann") || len(info.NameID) < 32 {
			t.Errorf("persistent name id %q (%s)", info.NameID, info.NameIDFormat)
		}
		other := e.newSP(t, "blog", func(c *access.SAMLConfig) {
			c.NameIDFormat, c.NameIDSource = access.NameIDFormatPersistent, access.SourcePersistent
		})
		e.assign(t, other.app.ID, ann)

		p2 := b.form(b.get(launch))
		if p2.relayState != "/home" {
			t.Errorf("default relay state %q", p2.relayState)
		}
		if got := s.verify(t, p2).NameID; got != info.NameID {
			t.Errorf("persistent name id changed: %q, %q", info.NameID, got)
		}
		if got := other.verify(t, b.form(b.get(e.page("/saml/launch/"+string(other.app.ID))))).NameID; got == info.NameID {
			t.Error("two applications got the same persistent name id")
		}

		portal := b.get(e.page("/"))
		if !strings.Contains(portal.body, `href="/t/default/saml/launch/`+string(s.app.ID)+`"`) {
			t.Errorf("the portal tile does not launch the application: %.800s", portal.body)
		}
		noForm(t, b.get(launch+"?RelayState="+strings.Repeat("x", 81)), http.StatusBadRequest, "RelayState")
		noForm(t, b.get(e.page("/saml/launch/app_nosuch")), http.StatusNotFound, "no such SAML application")
	})
}

// TestForceAuthn asks for a fresh sign-in: a valid session is not enough,
// the user signs in again, and the assertion's AuthnInstant is that of the
// new sign-in.
func TestForceAuthn(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		s := e.newSP(t, "bank", nil)
		e.assign(t, s.app.ID, ann)
		b := e.browser(t)
		first := s.verify(t, b.form(b.signIn(b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, ""), "ann")))

		s.ForceAuthn = true
		for _, binding := range []string{saml2.BindingHttpRedirect, saml2.BindingHttpPost} {
			e.clk.Advance(time.Minute)
			a := b.start(s, s.newRequest(t, binding), binding, "")
			if !a.onSignIn() {
				t.Fatalf("%s: ForceAuthn with a session: %d at %s, want the sign-in page", binding, a.status, a.url)
			}
			signedIn := e.clk.Advance(time.Second)
			info := s.verify(t, b.form(b.signIn(a, "ann")))
			if !info.AuthnInstant.Equal(signedIn.Truncate(time.Millisecond)) || !info.AuthnInstant.After(*first.AuthnInstant) {
				t.Errorf("%s: AuthnInstant %v, signed in at %v, first at %v", binding, info.AuthnInstant, signedIn, first.AuthnInstant)
			}
		}
	})
}

// TestIsPassive: without a session a passive request is answered NoPassive
// at once, never with the sign-in page; with one, with an assertion.
func TestIsPassive(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		s := e.newSP(t, "intranet", nil)
		e.assign(t, s.app.ID, ann)
		s.IsPassive = true
		b := e.browser(t)
		for _, binding := range []string{saml2.BindingHttpRedirect, saml2.BindingHttpPost} {
			r := s.newRequest(t, binding)
			p := b.form(b.start(s, r, binding, "passive"))
			if _, err := s.RetrieveAssertionInfo(p.response); err == nil {
				t.Fatalf("%s: the service provider accepts a NoPassive response", binding)
			}
			resp := decodeResponse(t, p.response)
			st := resp.Status.StatusCode
			if st.Value != saml.StatusResponder || st.StatusCode == nil || st.StatusCode.Value != saml.StatusNoPassive ||
				resp.InResponseTo != r.id || resp.Assertion != nil || resp.Signature == nil || p.relayState != "passive" {
				t.Errorf("%s: NoPassive response %+v", binding, resp)
			}
		}
		s.IsPassive = false
		b.form(b.signIn(b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, ""), "ann"))
		s.IsPassive = true
		s.verify(t, b.form(b.start(s, s.newRequest(t, saml2.BindingHttpPost), saml2.BindingHttpPost, "")))
	})
}

// TestMFARequired: an application that requires a second factor sends a
// session without one back to the sign-in once; signed in again still
// without one, the user is refused, and the refusal audited.
func TestMFARequired(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		s := e.newSP(t, "payroll", nil)
		e.assign(t, s.app.ID, ann)
		b := e.browser(t)
		b.form(b.signIn(b.follow(b.get(e.page("/saml/launch/"+string(s.app.ID)))), "ann"))
		if err := e.srv.Sessions.SetAppPolicy(e.ctx, e.sc(), s.app.ID, session.AppPolicy{MFA: session.MFARequired}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
		a := b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, "")
		noForm(t, b.signIn(a, "ann"), http.StatusForbidden, "requires two-step verification")
		noForm(t, b.get(e.page("/saml/launch/"+string(s.app.ID))), http.StatusForbidden, "requires two-step verification")
		evs := e.events(t, s.app.ID)
		if len(evs) != 3 || evs[1].Outcome != "failure" || !strings.Contains(string(evs[1].Details), `"reason":"mfa_required"`) {
			t.Errorf("app.sso events %+v", evs)
		}
	})
}

// TestNameIDPolicy: a request for a name identifier format the application
// is not configured with is answered InvalidNameIDPolicy, without a
// sign-in; unspecified leaves the choice to Tessera.
func TestNameIDPolicy(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		s := e.newSP(t, "crm", nil)
		e.assign(t, s.app.ID, ann)
		b := e.browser(t)
		s.NameIdFormat = access.NameIDFormatPersistent
		for _, binding := range []string{saml2.BindingHttpRedirect, saml2.BindingHttpPost} {
			r := s.newRequest(t, binding)
			resp := decodeResponse(t, b.form(b.start(s, r, binding, "")).response)
			st := resp.Status.StatusCode
			if st.Value != saml.StatusResponder || st.StatusCode == nil || st.StatusCode.Value != saml.StatusInvalidNameIDPolicy ||
				resp.InResponseTo != r.id || resp.Assertion != nil {
				t.Errorf("%s: %+v", binding, resp)
			}
		}
		s.NameIdFormat = access.NameIDFormatUnspecified
		info := s.verify(t, b.form(b.signIn(b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, ""), "ann")))
		if info.NameIDFormat != access.NameIDFormatEmail {
			t.Errorf("name id format %q", info.NameIDFormat)
		}
	})
}

// TestHeldRequests: a request waits for its browser to sign in longer than
// the request itself is valid, for 15 minutes, and is answered once.
func TestHeldRequests(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		s := e.newSP(t, "crm", nil)
		e.assign(t, s.app.ID, ann)
		b := e.browser(t)
		a := b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, "")
		e.clk.Advance(10 * time.Minute)
		answered := b.signIn(a, "ann")
		s.verify(t, b.form(answered))
		noForm(t, b.get(answered.url.String()), http.StatusBadRequest, "expired or was already used")

		late := e.browser(t)
		a = late.start(s, s.newRequest(t, saml2.BindingHttpPost), saml2.BindingHttpPost, "")
		e.clk.Advance(16 * time.Minute)
		noForm(t, late.signIn(a, "ann"), http.StatusBadRequest, "expired or was already used")
		if _, err := e.srv.Sessions.PurgeExpired(e.ctx); err != nil {
			t.Fatal(err)
		}
	})
}
