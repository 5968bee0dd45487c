package oidcop_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

const (
	slug     = "default"
	password = "violet-pumpkin-orbit-73"
)

// op is a running Tessera seen from outside, with its bootstrap tenant.
type op struct {
	url    string
	srv    *server.Server
	tenant tenant.ID
	clk    *testkit.Clock
	ctx    context.Context
}

func newOP(t *testing.T, db *store.DB) *op {
	t.Helper()
	ctx := context.Background()
	clk := testkit.NewClock(time.Now())
	env := testkit.NewServerOn(t, db, clk.Now, func(c *config.Config) { c.SignInRate = 0 })
	ten, err := env.Server.Tenants.TenantBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	return &op{url: env.URL, srv: env.Server, tenant: ten.ID, clk: clk, ctx: ctx}
}

func eachOP(t *testing.T, fn func(t *testing.T, e *op)) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) { fn(t, newOP(t, db)) })
}

func (e *op) sc() tenant.Scope { return tenant.Scope{Tenant: e.tenant} }
func (e *op) issuer() string   { return e.url + "/t/" + slug }

func (e *op) newUser(t *testing.T, name string, org tenant.OrgID) *user.User {
	t.Helper()
	u, err := e.srv.Users.Create(e.ctx, e.sc(), user.NewUser{Username: name, GivenName: strings.ToUpper(name[:1]) + name[1:],
		FamilyName: "Tester", Emails: []user.Email{{Value: name + "@example.com", Primary: true}}, Org: org, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *op) assign(t *testing.T, app access.AppID, u *user.User, roles ...string) {
	t.Helper()
	_, err := e.srv.Access.Assign(e.ctx, e.sc(), app, access.NewAssignment{
		Principal: access.Principal{Type: access.PrincipalUser, ID: string(u.ID)}, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
}

// client is a registered OIDC application with its secret ("" for public).
type client struct {
	app    *access.Application
	cfg    *access.OIDCClient
	secret string
}

// newClient registers an OIDC application; adjust changes the defaults
// (a confidential client with the code and refresh grants).
func (e *op) newClient(t *testing.T, name string, redirect string, adjust func(*access.OIDCClient)) *client {
	t.Helper()
	app, err := e.srv.Access.CreateApplication(e.ctx, e.sc(), access.NewApplication{Name: name, Kind: access.KindOIDC,
		Roles: []access.AppRole{{Name: "viewer"}, {Name: "editor"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := access.DefaultOIDCClient()
	cfg.RedirectURIs = []string{redirect}
	cfg.GrantTypes = []string{access.GrantAuthorizationCode, access.GrantRefreshToken}
	cfg.Scopes = []string{access.ScopeOpenID, access.ScopeProfile, access.ScopeEmail, access.ScopeGroups, access.ScopeOfflineAccess}
	if adjust != nil {
		adjust(&cfg)
	}
	c, secret, err := e.srv.Access.CreateOIDCClient(e.ctx, e.sc(), app.ID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &client{app: app, cfg: c, secret: secret}
}

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t *testing.T
	c *http.Client
	e *op
}

func (e *op) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status   int
	body     string
	location string
	url      *url.URL
}

func (b *browser) do(req *http.Request) *answer {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	a := &answer{status: res.StatusCode, body: string(body), url: req.URL}
	if loc, err := res.Location(); err == nil {
		a.location = loc.String()
	}
	// A page that refreshes at once is, to a browser, a redirect (the
	// provider's continue page); the tests see it as one.
	if m := refreshMeta.FindStringSubmatch(a.body); a.status == http.StatusOK && m != nil {
		a.status, a.location = http.StatusSeeOther, html.UnescapeString(m[1])
	}
	return a
}

func (b *browser) get(u string) *answer {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) *answer {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

var (
	csrfField   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	refreshMeta = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]+)">`)
)

// authorize runs the browser part of the code flow from the authorization
// URL u: it signs in as login when Tessera asks, allows consent when asked,
// and returns the redirect to the client (not followed).
func (b *browser) authorize(u, login string) *answer {
	b.t.Helper()
	a := b.get(u)
	for range 12 {
		switch {
		case a.status == http.StatusFound || a.status == http.StatusSeeOther:
			if !strings.HasPrefix(a.location, b.e.url+"/") {
				return a
			}
			a = b.get(a.location)
		case a.status == http.StatusOK && a.url.Path == "/t/"+slug+"/login":
			m := csrfField.FindStringSubmatch(a.body)
			if m == nil {
				b.t.Fatal("no csrf field on the sign-in page")
			}
			a = b.post(b.e.url+"/t/"+slug+"/login/password", url.Values{"csrf": {m[1]}, "login": {login},
				"password": {password}, "return": {a.url.Query().Get("return")}})
		case a.status == http.StatusOK && strings.Contains(a.body, `name="decision"`):
			m := csrfField.FindStringSubmatch(a.body)
			id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(a.body)
			a = b.post(b.e.url+"/t/"+slug+"/oauth2/consent", url.Values{"csrf": {m[1]}, "id": {id[1]}, "decision": {"allow"}})
		default:
			return a
		}
	}
	b.t.Fatal("too many steps")
	return nil
}
