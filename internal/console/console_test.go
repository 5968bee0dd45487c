package console_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// TestSignIn: an admin token of the tenant opens the console with a strict
// cookie that holds nothing readable; every other token gets the same
// refusal and no cookie.
func TestSignIn(t *testing.T) {
	eachSite(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		s.app(t, "Expenses", access.KindSAML)
		b := s.browser(t)
		if p := b.get(consoleBase + "/applications"); !signedOut(p) {
			t.Fatalf("applications without a session: %d %q", p.status, p.header.Get("Location"))
		}
		tok, secret := s.token(t, slug, apitoken.Admin, "")
		p := b.signIn(secret)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != consoleBase+"/applications" {
			t.Fatalf("sign in: %d %q:\n%s", p.status, p.header.Get("Location"), p.body)
		}
		c := p.setCookie(sessionCookie)
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != consoleBase+"/" ||
			c.Secure || c.MaxAge != int((8*time.Hour).Seconds()) {
			t.Fatalf("session cookie: %+v", c)
		}
		if strings.Contains(c.Value, secret) || strings.Contains(c.Value, string(tok.ID)) || strings.Contains(c.Value, string(s.tenant)) {
			t.Errorf("the cookie shows the token or tenant: %q", c.Value)
		}
		if csrf := b.cookie(consoleBase+"/", "tessera_console_csrf"); csrf == nil {
			t.Error("no CSRF cookie on the console's path")
		}
		list := b.get(consoleBase + "/applications")
		want(t, list.status, http.StatusOK, list.body)
		contains(t, list.body, "Expenses", "saml", "active", `lang="en"`)
		if n := strings.Count(list.body, "<h1"); n != 1 {
			t.Errorf("%d h1 elements", n)
		}
		if p := b.get(consoleBase + "/"); p.status != http.StatusSeeOther || p.header.Get("Location") != consoleBase+"/applications" {
			t.Errorf("console root when signed in: %d %q", p.status, p.header.Get("Location"))
		}

		// Tokens that must not open it.
		_, err := s.Server.Tenants.CreateTenant(ctx, "other", "Other Co")
		if err != nil {
			t.Fatal(err)
		}
		_, otherSecret := s.token(t, "other", apitoken.Admin, "")
		revoked, revokedSecret := s.token(t, slug, apitoken.Admin, "")
		if _, err := s.Server.Tokens.Revoke(ctx, tenant.Scope{Tenant: s.tenant}, revoked.ID); err != nil {
			t.Fatal(err)
		}
		org, err := s.Server.Tenants.CreateOrganization(ctx, tenant.Scope{Tenant: s.tenant}, tenant.NewOrganization{Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		_, orgSecret := s.token(t, slug, apitoken.Admin, org.ID)
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		var first string
		for name, secret := range map[string]string{"wrong": apitoken.SecretPrefix + base64.RawURLEncoding.EncodeToString(raw),
			"other tenant": otherSecret, "revoked": revokedSecret, "organization-scoped": orgSecret, "empty": "", "garbage": "<x>"} {
			b := s.browser(t)
			p := b.signIn(secret)
			if p.status != http.StatusUnauthorized || p.setCookie(sessionCookie) != nil {
				t.Errorf("%s token: %d, cookie %v", name, p.status, p.setCookie(sessionCookie))
			}
			norm := normalized(p.body)
			if first == "" {
				first = norm
			} else if norm != first {
				t.Errorf("%s token: the refusal differs:\n%s\n---\n%s", name, norm, first)
			}
		}
	})
}

var volatile = regexp.MustCompile(`name="csrf" value="[^"]*"|nonce="[^"]*"`)

// normalized is a page without its form token and nonce.
func normalized(body string) string { return volatile.ReplaceAllString(body, "") }

// TestSessionChecksTokenEachTime: revoking the token or 8 hours ends the
// console session; signing out forgets it.
func TestSessionChecksTokenEachTime(t *testing.T) {
	eachSite(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		tok, secret := s.token(t, slug, apitoken.ReadOnly, "")
		b := s.browser(t)
		b.mustSignIn(secret)
		want(t, b.get(consoleBase+"/signing-keys").status, http.StatusOK, "")
		if _, err := s.Server.Tokens.Revoke(ctx, tenant.Scope{Tenant: s.tenant}, tok.ID); err != nil {
			t.Fatal(err)
		}
		if p := b.get(consoleBase + "/signing-keys"); !signedOut(p) {
			t.Errorf("after revocation: %d", p.status)
		}

		_, secret = s.token(t, slug, apitoken.ReadOnly, "")
		b = s.browser(t)
		b.mustSignIn(secret)
		s.clk.Advance(8*time.Hour - time.Second)
		want(t, b.get(consoleBase+"/applications").status, http.StatusOK, "")
		s.clk.Advance(time.Second)
		if p := b.get(consoleBase + "/applications"); !signedOut(p) {
			t.Errorf("after 8 hours: %d", p.status)
		}

		_, secret = s.token(t, slug, apitoken.ReadOnly, "")
		b = s.browser(t)
		b.mustSignIn(secret)
		csrf := b.csrf(consoleBase + "/applications")
		p := b.post(consoleBase+"/signout", url.Values{"csrf": {csrf}})
		if !signedOut(p) || p.setCookie(sessionCookie) == nil || p.setCookie(sessionCookie).MaxAge >= 0 {
			t.Errorf("sign out: %d %+v", p.status, p.setCookie(sessionCookie))
		}
		if p := b.get(consoleBase + "/applications"); !signedOut(p) {
			t.Errorf("after sign-out: %d", p.status)
		}
	})
}

// TestCookieBoundToTenant: a console cookie of one tenant opens nothing in
// another, even where the same cookie value is presented on its path.
func TestCookieBoundToTenant(t *testing.T) {
	eachSite(t, func(t *testing.T, s *site) {
		if _, err := s.Server.Tenants.CreateTenant(context.Background(), "other", "Other Co"); err != nil {
			t.Fatal(err)
		}
		_, secret := s.token(t, slug, apitoken.Admin, "")
		b := s.browser(t)
		b.mustSignIn(secret)
		c := b.cookie(consoleBase+"/", sessionCookie)
		u, _ := url.Parse(s.URL + "/t/other/console/")
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: c.Value, Path: "/t/other/console/"}})
		p := b.get("/t/other/console/applications")
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/t/other/console/signin" {
			t.Errorf("default's cookie on other: %d %q", p.status, p.header.Get("Location"))
		}
		// The cookie is untouched where it belongs.
		want(t, b.get(consoleBase+"/applications").status, http.StatusOK, "")
	})
}

// oidcClient creates an OIDC application with a confidential client and
// returns its id, client id and first secret.
func (s *site) oidcClient(t *testing.T) (app, clientID, secret string) {
	t.Helper()
	app = s.app(t, "CRM", access.KindOIDC)
	res := s.Do(t, http.MethodPost, "/api/v1/applications/"+app+"/oidc", s.AdminToken, map[string]any{
		"client_type": "confidential", "redirect_uris": []any{"https://crm.example/oidc/callback"},
		"token_endpoint_auth_method": "client_secret_basic"})
	want(t, res.Status, http.StatusCreated, string(res.Body))
	m := res.JSON(t)
	return app, m["client_id"].(string), m["client_secret"].(string)
}

// TestCSRF: every POST needs this browser's form token, and cross-origin
// POSTs are refused before that; refused posts change nothing.
func TestCSRF(t *testing.T) {
	eachSite(t, func(t *testing.T, s *site) {
		app, _, _ := s.oidcClient(t)
		_, secret := s.token(t, slug, apitoken.Admin, "")
		b := s.browser(t)
		if p := b.post(consoleBase+"/signin", url.Values{"token": {secret}}); p.status != http.StatusForbidden || p.setCookie(sessionCookie) != nil {
			t.Errorf("sign-in without a form token: %d", p.status)
		}
		b.mustSignIn(secret)
		path := consoleBase + "/applications/" + app + "/oidc/secret"
		good := b.csrf(path)
		other := s.browser(t).csrf(consoleBase + "/signin") // valid, but another browser's
		s.Unchanged(t, func() {
			for name, form := range map[string]url.Values{
				"no token":              {"previous_valid_seconds": {"0"}},
				"wrong token":           {"previous_valid_seconds": {"0"}, "csrf": {strings.Repeat("A", len(good))}},
				"another browser's one": {"previous_valid_seconds": {"0"}, "csrf": {other}},
			} {
				if p := b.post(path, form); p.status != http.StatusForbidden || strings.Contains(p.body, "tsk_") {
					t.Errorf("%s: %d", name, p.status)
				}
			}
			p := b.post(path, url.Values{"previous_valid_seconds": {"0"}, "csrf": {good}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
			if p.status != http.StatusForbidden {
				t.Errorf("cross-site post: %d", p.status)
			}
		})
		if p := b.post(path, url.Values{"previous_valid_seconds": {"0"}, "csrf": {good}}); p.status != http.StatusOK {
			t.Errorf("post with the form token: %d:\n%s", p.status, p.body)
		}
	})
}

// TestReadOnlyCannotChange: a read-only token sees the OIDC setup but no
// rotation, and cannot rotate by posting.
func TestReadOnlyCannotChange(t *testing.T) {
	eachSite(t, func(t *testing.T, s *site) {
		app, clientID, _ := s.oidcClient(t)
		for _, role := range []apitoken.Role{apitoken.ReadOnly, apitoken.UserManager} {
			_, secret := s.token(t, slug, role, "")
			b := s.browser(t)
			b.mustSignIn(secret)
			p := b.get(consoleBase + "/applications/" + app)
			want(t, p.status, http.StatusOK, p.body)
			contains(t, p.body, clientID)
			if strings.Contains(p.body, "/oidc/secret") {
				t.Errorf("%s: the page offers the rotation", role)
			}
			path := consoleBase + "/applications/" + app + "/oidc/secret"
			if p := b.get(path); p.status != http.StatusForbidden {
				t.Errorf("%s: confirmation page: %d", role, p.status)
			}
			csrf := b.csrf(consoleBase + "/applications/" + app)
			s.Unchanged(t, func() {
				if p := b.post(path, url.Values{"csrf": {csrf}, "previous_valid_seconds": {"0"}}); p.status != http.StatusForbidden {
					t.Errorf("%s: rotation: %d", role, p.status)
				}
			})
		}
	})
}

// TestSAMLSetupMatchesAPI: the console shows exactly what the REST setup
// endpoint returns: the IdP's URLs and the certificates with fingerprints.
func TestSAMLSetupMatchesAPI(t *testing.T) {
	eachSite(t, func(t *testing.T, s *site) {
		app := s.app(t, "Expenses", access.KindSAML)
		_, secret := s.token(t, slug, apitoken.ReadOnly, "")
		b := s.browser(t)
		b.mustSignIn(secret)
		p := b.get(consoleBase + "/applications/" + app)
		want(t, p.status, http.StatusOK, p.body)
		contains(t, p.body, "no SAML settings yet")

		res := s.Do(t, http.MethodPut, "/api/v1/applications/"+app+"/saml", s.AdminToken, map[string]any{
			"entity_id": "https://sp.example/saml",
			"acs":       []any{map[string]any{"index": 0, "url": "https://sp.example/saml/acs", "binding": access.BindingHTTPPost, "default": true}},
		})
		want(t, res.Status, http.StatusOK, string(res.Body))
		res = s.Do(t, http.MethodGet, "/api/v1/applications/"+app+"/saml/setup", s.AdminToken, nil)
		want(t, res.Status, http.StatusOK, string(res.Body))
		var v struct {
			IdPEntityID    string `json:"idp_entity_id"`
			MetadataURL    string `json:"metadata_url"`
			SSOURLRedirect string `json:"sso_url_redirect"`
			SSOURLPost     string `json:"sso_url_post"`
			SLOURL         string `json:"slo_url"`
			TestSignInURL  string `json:"test_sign_in_url"`
			Certificates   []struct {
				State       string `json:"state"`
				PEM         string `json:"pem"`
				Fingerprint string `json:"fingerprint_sha256"`
			} `json:"certificates"`
		}
		res.Decode(t, &v)
		if len(v.Certificates) != 2 {
			t.Fatalf("the API shows %d certificates", len(v.Certificates))
		}
		p = b.get(consoleBase + "/applications/" + app)
		want(t, p.status, http.StatusOK, p.body)
		contains(t, p.body, v.IdPEntityID, v.MetadataURL, v.SSOURLRedirect, v.SSOURLPost, v.SLOURL,
			`href="`+v.TestSignInURL+`"`, "https://sp.example/saml/acs", "Next signing certificate")
		for _, c := range v.Certificates {
			contains(t, p.body, c.Fingerprint, c.PEM)
		}
		if !strings.HasPrefix(v.TestSignInURL, s.URL+"/t/default/saml/test/") {
			t.Errorf("test sign-in URL %q", v.TestSignInURL)
		}

		keys := b.get(consoleBase + "/signing-keys")
		want(t, keys.status, http.StatusOK, keys.body)
		contains(t, keys.body, "SAML", "OpenID Connect", v.Certificates[0].Fingerprint, v.Certificates[1].Fingerprint)
	})
}

// TestOIDCSetupAndSecret: the OIDC setup view shows the client and the
// endpoints; a new secret is shown once, on a page no cache keeps, and
// authenticates the client; the old one works for the overlap chosen only.
func TestOIDCSetupAndSecret(t *testing.T) {
	eachSite(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		app, clientID, oldSecret := s.oidcClient(t)
		_, secret := s.token(t, slug, apitoken.Admin, "")
		b := s.browser(t)
		b.mustSignIn(secret)
		p := b.get(consoleBase + "/applications/" + app)
		want(t, p.status, http.StatusOK, p.body)
		issuer := s.URL + "/t/default"
		contains(t, p.body, clientID, "confidential", "client_secret_basic", "https://crm.example/oidc/callback", issuer,
			issuer+"/.well-known/openid-configuration", issuer+"/oauth2/authorize", issuer+"/oauth2/token",
			issuer+"/oauth2/userinfo", issuer+"/oauth2/introspect", issuer+"/oauth2/revoke", issuer+"/oauth2/end_session",
			issuer+"/oauth2/keys", "Generate new client secret")
		if strings.Contains(p.body, oldSecret) {
			t.Error("the setup view shows the secret")
		}

		path := consoleBase + "/applications/" + app + "/oidc/secret"
		confirm := b.get(path)
		want(t, confirm.status, http.StatusOK, confirm.body)
		csrf := csrfPattern.FindStringSubmatch(confirm.body)[1]
		s.Unchanged(t, func() {
			if p := b.post(path, url.Values{"csrf": {csrf}, "previous_valid_seconds": {"12345"}}); p.status != http.StatusBadRequest {
				t.Errorf("an overlap not offered: %d", p.status)
			}
		})
		done := b.post(path, url.Values{"csrf": {csrf}, "previous_valid_seconds": {"3600"}})
		want(t, done.status, http.StatusOK, done.body)
		if cc := done.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("secret page Cache-Control %q", cc)
		}
		m := regexp.MustCompile(`id="secret"[^>]*>([^<]+)</textarea>`).FindStringSubmatch(done.body)
		if m == nil {
			t.Fatalf("no secret on the page:\n%s", done.body)
		}
		newSecret := m[1]
		if newSecret == oldSecret || strings.Contains(done.header.Get("Location"), newSecret) {
			t.Fatal("the secret did not change, or travels in a URL")
		}
		check := func(secret string) bool {
			_, _, err := s.Server.Access.CheckOIDCClientSecret(ctx, s.tenant, clientID, secret)
			if err != nil && !errors.Is(err, access.ErrOIDCClientAuth) {
				t.Fatal(err)
			}
			return err == nil
		}
		if !check(newSecret) || !check(oldSecret) {
			t.Fatalf("within the overlap: new %v, old %v", check(newSecret), check(oldSecret))
		}
		if again := b.get(consoleBase + "/applications/" + app); strings.Contains(again.body, newSecret) {
			t.Error("the secret is shown again")
		}
		s.clk.Advance(time.Hour)
		if !check(newSecret) || check(oldSecret) {
			t.Errorf("after the overlap: new %v, old %v", check(newSecret), check(oldSecret))
		}
	})
}

// TestHeaders: every page forbids framing and scripts, carries a nonce and
// is never cached; the stylesheet is served.
func TestHeaders(t *testing.T) {
	eachSite(t, func(t *testing.T, s *site) {
		_, secret := s.token(t, slug, apitoken.Admin, "")
		b := s.browser(t)
		check := func(name string, p page) {
			t.Helper()
			csp := p.header.Get("Content-Security-Policy")
			for _, part := range []string{"default-src 'none'", "script-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "'nonce-"} {
				if !strings.Contains(csp, part) {
					t.Errorf("%s: CSP %q lacks %q", name, csp, part)
				}
			}
			if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Cache-Control") != "no-store" ||
				p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("%s: headers %v", name, p.header)
			}
		}
		check("sign-in", b.get(consoleBase+"/signin"))
		check("refusal", b.signIn("tsk_nope"))
		b.mustSignIn(secret)
		check("applications", b.get(consoleBase+"/applications"))
		check("signing keys", b.get(consoleBase+"/signing-keys"))
		check("unknown application", b.get(consoleBase+"/applications/app_nope"))
		css := b.get("/static/console/console.css")
		if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
			t.Errorf("stylesheet: %d %q", css.status, css.header.Get("Content-Type"))
		}
		if p := b.get("/t/nope/console/signin"); p.status != http.StatusNotFound {
			t.Errorf("unknown tenant: %d", p.status)
		}
	})
}
