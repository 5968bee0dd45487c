package samlidp_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	saml2 "github.com/russellhaering/gosaml2"
	"github.com/russellhaering/gosaml2/types"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/page"
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

// idp is a running Tessera, seen from outside, with its bootstrap tenant.
// Every service runs on clk, which moves only when a test says so.
type idp struct {
	url    string
	srv    *server.Server
	tenant tenant.ID
	clk    *testkit.Clock
	ctx    context.Context
}

func newIDP(t *testing.T, db *store.DB) *idp {
	t.Helper()
	ctx := context.Background()
	clk := testkit.NewClock(time.Now())
	env := testkit.NewServerOn(t, db, clk.Now, func(c *config.Config) { c.SignInRate = 0 })
	ten, err := env.Server.Tenants.TenantBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	return &idp{url: env.URL, srv: env.Server, tenant: ten.ID, clk: clk, ctx: ctx}
}

// eachIDP runs fn against a fresh server on each database.
func eachIDP(t *testing.T, fn func(t *testing.T, e *idp)) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) { fn(t, newIDP(t, db)) })
}

func (e *idp) sc() tenant.Scope { return tenant.Scope{Tenant: e.tenant} }

// page is a path of the tenant's pages as an absolute URL.
func (e *idp) page(path string) string { return e.url + "/t/" + slug + path }

// newUser creates an active user name (email name@example.com) with
// password, homed in org ("" for none).
func (e *idp) newUser(t *testing.T, name string, org tenant.OrgID) *user.User {
	t.Helper()
	u, err := e.srv.Users.Create(e.ctx, e.sc(), user.NewUser{Username: name, GivenName: strings.ToUpper(name[:1]) + name[1:],
		FamilyName: "Tester", Emails: []user.Email{{Value: name + "@example.com", Primary: true}}, Org: org, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *idp) newOrg(t *testing.T, name string) *tenant.Organization {
	t.Helper()
	o, err := e.srv.Tenants.CreateOrganization(e.ctx, e.sc(), tenant.NewOrganization{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (e *idp) assign(t *testing.T, app access.AppID, u *user.User, roles ...string) {
	t.Helper()
	_, err := e.srv.Access.Assign(e.ctx, e.sc(), app, access.NewAssignment{
		Principal: access.Principal{Type: access.PrincipalUser, ID: string(u.ID)}, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
}

// metadata fetches and decodes the tenant's IdP metadata with gosaml2's
// types, as a service provider's administrator would import it.
func (e *idp) metadata(t *testing.T) *types.EntityDescriptor {
	t.Helper()
	res, err := http.Get(e.page("/saml/metadata"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %d %s", res.StatusCode, body)
	}
	var md types.EntityDescriptor
	if err := xml.Unmarshal(body, &md); err != nil {
		t.Fatalf("metadata: %v\n%s", err, body)
	}
	return &md
}

// events lists the tenant's app.sso events for app, oldest first.
func (e *idp) events(t *testing.T, app access.AppID) []audit.Record {
	t.Helper()
	p, err := e.srv.Audit.List(e.ctx, string(e.tenant), audit.Query{Request: page.Request{Limit: page.MaxLimit},
		Action: audit.ActionSSO, TargetType: audit.TargetApplication, TargetID: string(app)})
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

// sp is an independent service provider: gosaml2, configured from
// Tessera's metadata as its administrator would configure it.
type sp struct {
	*saml2.SAMLServiceProvider
	app    *access.Application
	config *access.SAMLConfig
	key    *rsa.PrivateKey
	cert   []byte // DER
	clk    *testkit.Clock
}

// now sets the service provider's clock to the test's.
func (s *sp) now() {
	if s.clk != nil {
		s.Clock = dsig.NewFakeClockAt(s.clk.Now())
	}
}

// newSP registers application name (kind saml, roles approver and viewer)
// with a default configuration that adjust may change, and builds its
// service provider.
func (e *idp) newSP(t *testing.T, name string, adjust func(*access.SAMLConfig)) *sp {
	t.Helper()
	key, cert := newCertificate(t, name)
	app, err := e.srv.Access.CreateApplication(e.ctx, e.sc(), access.NewApplication{Name: name, Kind: access.KindSAML,
		Roles: []access.AppRole{{Name: "approver"}, {Name: "viewer"}}})
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + name + ".example.com/saml"
	c := access.DefaultSAMLConfig()
	c.EntityID = base + "/metadata"
	c.ACS = []access.ACS{{Index: 0, URL: base + "/acs", Binding: access.BindingHTTPPost, Default: true},
		{Index: 1, URL: base + "/acs-other", Binding: access.BindingHTTPPost}}
	c.SPCertificate = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))
	c.Attributes = []access.SAMLAttribute{
		{Name: "urn:oid:0.9.2342.19200300.100.1.3", FriendlyName: "mail", Source: access.SourceEmail},
		{Name: "givenName", Source: access.SourceGivenName},
		{Name: "groups", Source: access.SourceGroups},
		{Name: "roles", Source: access.SourceAppRoles},
		{Name: "organization", Source: access.SourceOrganization},
	}
	if adjust != nil {
		adjust(&c)
	}
	saved, err := e.srv.Access.SetSAMLConfig(e.ctx, e.sc(), app.ID, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &sp{app: app, config: saved, key: key, cert: cert, clk: e.clk, SAMLServiceProvider: &saml2.SAMLServiceProvider{
		AssertionConsumerServiceURL: saved.ACS[0].URL,
		ServiceProviderIssuer:       saved.EntityID,
		AudienceURI:                 saved.EntityID,
		SignAuthnRequests:           saved.WantSignedRequests,
		SignAuthnRequestsAlgorithm:  dsig.RSASHA256SignatureMethod,
	}}
	md := e.metadata(t)
	s.IdentityProviderIssuer = md.EntityID
	for _, sso := range md.IDPSSODescriptor.SingleSignOnServices {
		if sso.Binding == saml2.BindingHttpRedirect {
			s.IdentityProviderSSOURL = sso.Location
		}
	}
	store := &dsig.MemoryX509CertificateStore{}
	for _, kd := range md.IDPSSODescriptor.KeyDescriptors {
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			der, err := base64.StdEncoding.DecodeString(c.Data)
			if err != nil {
				t.Fatal(err)
			}
			crt, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			store.Roots = append(store.Roots, crt)
		}
	}
	s.IDPCertificateStore = store
	if err := s.SetSPSigningKeyStore(&saml2.KeyStore{Signer: key, Cert: cert}); err != nil {
		t.Fatal(err)
	}
	return s
}

// like returns a service provider configured as s but for adjust: what it
// sends is what s could have sent, but for the change.
func (s *sp) like(t *testing.T, adjust func(*saml2.SAMLServiceProvider)) *sp {
	t.Helper()
	x := &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL:      s.IdentityProviderSSOURL,
		IdentityProviderIssuer:      s.IdentityProviderIssuer,
		AssertionConsumerServiceURL: s.AssertionConsumerServiceURL,
		ServiceProviderIssuer:       s.ServiceProviderIssuer,
		AudienceURI:                 s.AudienceURI,
		IDPCertificateStore:         s.IDPCertificateStore,
		SignAuthnRequests:           s.SignAuthnRequests,
		SignAuthnRequestsAlgorithm:  s.SignAuthnRequestsAlgorithm,
	}
	if err := x.SetSPSigningKeyStore(&saml2.KeyStore{Signer: s.key, Cert: s.cert}); err != nil {
		t.Fatal(err)
	}
	adjust(x)
	c := *s
	c.SAMLServiceProvider = x
	return &c
}

// newCertificate makes an RSA key and a self-signed certificate for a
// service provider.
func newCertificate(t *testing.T, name string) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

// request is an AuthnRequest the service provider built, before it is sent.
type request struct {
	doc *etree.Document
	id  string
}

// newRequest builds an AuthnRequest; with the POST binding it carries its
// XML signature when the service provider signs requests (the Redirect
// binding signs the query instead).
func (s *sp) newRequest(t *testing.T, binding string) *request {
	t.Helper()
	s.now()
	build := s.BuildAuthRequestDocumentNoSig
	if binding == saml2.BindingHttpPost {
		build = s.BuildAuthRequestDocument
	}
	doc, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return &request{doc: doc, id: doc.Root().SelectAttrValue("ID", "")}
}

// xml returns the request's XML.
func (r *request) xml(t *testing.T) []byte {
	t.Helper()
	b, err := r.doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// redirectURL is where the HTTP-Redirect binding sends the browser.
func (s *sp) redirectURL(t *testing.T, r *request, relayState string) string {
	t.Helper()
	u, err := s.BuildAuthURLRedirect(relayState, r.doc)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is a user agent: cookies, and redirects followed one by one by
// the test.
type browser struct {
	t *testing.T
	c *http.Client
	e *idp
}

func (e *idp) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// answer is one HTTP response, read.
type answer struct {
	status   int
	header   http.Header
	body     string
	location string // absolute
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
	a := &answer{status: res.StatusCode, header: res.Header, body: string(body), url: req.URL}
	if loc, err := res.Location(); err == nil {
		a.location = loc.String()
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

// postForm posts a form as a page of another site would (Sec-Fetch-Site
// cross-site), unless sameSite.
func (b *browser) postForm(u string, form url.Values, sameSite bool) *answer {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sameSite {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	} else {
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://app.example.net")
	}
	return b.do(req)
}

// follow follows redirects within Tessera, stopping at the sign-in page
// (which it fetches) or any other page.
func (b *browser) follow(a *answer) *answer {
	b.t.Helper()
	for range 10 {
		if a.status != http.StatusSeeOther && a.status != http.StatusFound {
			return a
		}
		if !strings.HasPrefix(a.location, b.e.url+"/") {
			b.t.Fatalf("redirect off Tessera to %s", a.location)
		}
		a = b.get(a.location)
	}
	b.t.Fatal("too many redirects")
	return nil
}

// onSignIn reports whether a is the sign-in page.
func (a *answer) onSignIn() bool {
	return a.status == http.StatusOK && a.url.Path == "/t/"+slug+"/login"
}

var (
	csrfField     = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	formAction    = regexp.MustCompile(`<form method="post" action="([^"]*)" id="saml-post">`)
	responseField = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)
	relayField    = regexp.MustCompile(`name="RelayState" value="([^"]*)"`)
)

// signIn fills in the sign-in page a shows and follows where it leads.
func (b *browser) signIn(a *answer, login string) *answer {
	b.t.Helper()
	res := b.trySignIn(a, login)
	if res.status != http.StatusSeeOther {
		b.t.Fatalf("sign-in: %d %.300s", res.status, res.body)
	}
	return b.follow(res)
}

// trySignIn posts the password form of the sign-in page a shows.
func (b *browser) trySignIn(a *answer, login string) *answer {
	b.t.Helper()
	if !a.onSignIn() {
		b.t.Fatalf("expected the sign-in page, got %d at %s: %.300s", a.status, a.url, a.body)
	}
	m := csrfField.FindStringSubmatch(a.body)
	if m == nil {
		b.t.Fatal("no csrf field on the sign-in page")
	}
	return b.postForm(b.e.page("/login/password"), url.Values{"csrf": {m[1]}, "login": {login}, "password": {password},
		"return": {a.url.Query().Get("return")}}, true)
}

// posted is the auto-submitting form a response page holds.
type posted struct {
	acs, response, relayState string
}

// form reads the response form of a, failing the test when a is not one.
func (b *browser) form(a *answer) posted {
	b.t.Helper()
	act, res := formAction.FindStringSubmatch(a.body), responseField.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || act == nil || res == nil {
		b.t.Fatalf("expected a response form, got %d at %s: %.500s", a.status, a.url, a.body)
	}
	p := posted{acs: html.UnescapeString(act[1]), response: html.UnescapeString(res[1])}
	if m := relayField.FindStringSubmatch(a.body); m != nil {
		p.relayState = html.UnescapeString(m[1])
	}
	return p
}

// noForm fails the test when a carries a response form or a redirect.
func noForm(t *testing.T, a *answer, status int, says string) {
	t.Helper()
	if a.status != status || formAction.MatchString(a.body) || strings.Contains(a.body, "SAMLResponse") || a.location != "" {
		t.Fatalf("want a %d page without a response, got %d (location %q): %.500s", status, a.status, a.location, a.body)
	}
	if !strings.Contains(html.UnescapeString(a.body), says) {
		t.Fatalf("the page does not say %q: %.500s", says, a.body)
	}
}

// decodeResponse reads a response without verifying it, to look at what
// the verifying service provider does not show.
func decodeResponse(t *testing.T, b64 string) *saml.Response {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	var r saml.Response
	if err := xml.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// deflateBase64 encodes b as the HTTP-Redirect binding does.
func deflateBase64(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
