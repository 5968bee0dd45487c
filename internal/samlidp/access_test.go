package samlidp_test

import (
	"net/http"
	"strings"
	"testing"

	saml2 "github.com/russellhaering/gosaml2"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// failed reports whether the last app.sso event of app is a failure for
// reason.
func (e *idp) failed(t *testing.T, app access.AppID, reason string) bool {
	t.Helper()
	evs := e.events(t, app)
	return len(evs) > 0 && evs[len(evs)-1].Outcome == audit.Failure &&
		strings.Contains(string(evs[len(evs)-1].Details), `"reason":"`+reason+`"`)
}

// TestAccessDecides: an assertion is issued only while the user, their
// organization and their effective access allow it, checked at each
// request; every refusal is a 403 page and an app.sso failure event.
func TestAccessDecides(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		redirect := func(b *browser, s *sp) *answer {
			return b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, "")
		}

		t.Run("not assigned", func(t *testing.T) {
			bob := e.newUser(t, "bob", "")
			s := e.newSP(t, "ledger", nil)
			b := e.browser(t)
			noForm(t, b.signIn(redirect(b, s), "bob"), http.StatusForbidden, "You do not have access to ledger")
			if !e.failed(t, s.app.ID, "not_assigned") {
				t.Errorf("events %+v", e.events(t, s.app.ID))
			}
			e.assign(t, s.app.ID, bob)
			s.verify(t, b.form(redirect(b, s)))
		})

		t.Run("user deactivated mid-session", func(t *testing.T) {
			cat := e.newUser(t, "cat", "")
			s := e.newSP(t, "mail", nil)
			e.assign(t, s.app.ID, cat)
			b := e.browser(t)
			s.verify(t, b.form(b.signIn(redirect(b, s), "cat")))
			if _, err := e.srv.Users.Transition(e.ctx, e.sc(), cat.ID, user.OpDeactivate, 0); err != nil {
				t.Fatal(err)
			}
			a := redirect(b, s)
			if !a.onSignIn() {
				t.Fatalf("after deactivation: %d at %s, want the sign-in page", a.status, a.url)
			}
			if res := b.trySignIn(a, "cat"); res.status != http.StatusUnauthorized {
				t.Fatalf("a deactivated user's sign-in: %d", res.status)
			}
		})

		t.Run("organization suspended", func(t *testing.T) {
			org := e.newOrg(t, "Globex")
			dan := e.newUser(t, "dan", org.ID)
			s := e.newSP(t, "portal", nil)
			e.assign(t, s.app.ID, dan)
			b := e.browser(t)
			s.verify(t, b.form(b.signIn(redirect(b, s), "dan")))
			suspended := tenant.OrgSuspended
			if _, err := e.srv.Tenants.UpdateOrganization(e.ctx, e.sc(), org.ID, tenant.OrganizationPatch{Status: &suspended}, 0); err != nil {
				t.Fatal(err)
			}
			noForm(t, redirect(b, s), http.StatusForbidden, "organization's access to portal is suspended")
			if !e.failed(t, s.app.ID, "organization_suspended") {
				t.Errorf("events %+v", e.events(t, s.app.ID))
			}
			noForm(t, b.get(e.page("/saml/launch/"+string(s.app.ID))), http.StatusForbidden, "is suspended")
		})

		t.Run("application switched off", func(t *testing.T) {
			eve := e.newUser(t, "eve", "")
			s := e.newSP(t, "wiki", nil)
			e.assign(t, s.app.ID, eve)
			b := e.browser(t)
			s.verify(t, b.form(b.signIn(redirect(b, s), "eve")))
			off := access.AppInactive
			if _, err := e.srv.Access.UpdateApplication(e.ctx, e.sc(), s.app.ID, access.AppPatch{Status: &off}, 0); err != nil {
				t.Fatal(err)
			}
			noForm(t, redirect(b, s), http.StatusForbidden, "switched off")
			noForm(t, b.get(e.page("/saml/launch/"+string(s.app.ID))), http.StatusForbidden, "switched off")
		})

		t.Run("endpoint removed while signing in", func(t *testing.T) {
			fay := e.newUser(t, "fay", "")
			s := e.newSP(t, "forum", nil)
			e.assign(t, s.app.ID, fay)
			b := e.browser(t)
			a := redirect(b, s)
			c := *s.config
			c.ACS = c.ACS[1:]
			c.ACS[0].Default = true
			if _, err := e.srv.Access.SetSAMLConfig(e.ctx, e.sc(), s.app.ID, c, 0); err != nil {
				t.Fatal(err)
			}
			noForm(t, b.signIn(a, "fay"), http.StatusBadRequest, "expired or was already used")
		})
	})
}
