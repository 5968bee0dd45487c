package oidcop_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Helpers for the interop and security tests: an independent relying party
// (go-oidc + x/oauth2) and raw calls to the provider's endpoints.

// rp is an independent relying party for one client.
type rp struct {
	t        *testing.T
	e        *op
	c        *client
	ctx      context.Context
	issuer   string
	provider *oidc.Provider
	conf     *oauth2.Config
}

// rp discovers the provider of the bootstrap tenant and configures client c
// with scopes (default: openid profile email offline_access). The auth
// style follows the client's registered method: x/oauth2's auto-detection
// would retry a failed request with the other method.
func (e *op) rp(t *testing.T, c *client, scopes ...string) *rp {
	return e.rpAt(t, e.issuer(), c, scopes...)
}

func (e *op) rpAt(t *testing.T, issuer string, c *client, scopes ...string) *rp {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), &http.Client{Timeout: 30 * time.Second})
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}
	}
	ep := provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if c.cfg.TokenEndpointAuthMethod != access.AuthClientSecretBasic {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	redirectURL := ""
	if len(c.cfg.RedirectURIs) > 0 {
		redirectURL = c.cfg.RedirectURIs[0]
	}
	secret := c.secret
	if c.cfg.TokenEndpointAuthMethod == access.AuthPrivateKeyJWT {
		secret = "" // it authenticates by assertion, passed per request
	}
	return &rp{t: t, e: e, c: c, ctx: ctx, issuer: issuer, provider: provider,
		conf: &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: secret, Endpoint: ep, RedirectURL: redirectURL, Scopes: scopes}}
}

// authURL is an authorization URL with PKCE (S256), state and nonce.
func (r *rp) authURL(verifier string, extra ...oauth2.AuthCodeOption) string {
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce("n0nce")}, extra...)
	return r.conf.AuthCodeURL("st4te", opts...)
}

// code runs the browser part of the flow as login and returns the code and
// its PKCE verifier.
func (r *rp) code(b *browser, login string) (code, verifier string) {
	r.t.Helper()
	verifier = oauth2.GenerateVerifier()
	a := b.authorize(r.authURL(verifier), login)
	q := redirectQuery(r.t, a, r.conf.RedirectURL)
	if q.Get("code") == "" || q.Get("state") != "st4te" {
		r.t.Fatalf("want a redirect with code and state, got %d %q: %.300s", a.status, a.location, a.body)
	}
	return q.Get("code"), verifier
}

// exchange redeems a code.
func (r *rp) exchange(code, verifier string) (*oauth2.Token, error) {
	return r.conf.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
}

// login signs in as login in b and redeems the code.
func (r *rp) login(b *browser, login string) *oauth2.Token {
	r.t.Helper()
	code, verifier := r.code(b, login)
	tok, err := r.exchange(code, verifier)
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// verifyID verifies the ID token of tok with go-oidc.
func (r *rp) verifyID(tok *oauth2.Token) *oidc.IDToken {
	r.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.provider.Verifier(&oidc.Config{ClientID: r.c.cfg.ClientID}).Verify(r.ctx, raw)
	if err != nil {
		r.t.Fatalf("id token: %v", err)
	}
	return idt
}

// refresh uses a refresh token once.
func (r *rp) refresh(refreshToken string) (*oauth2.Token, error) {
	return r.conf.TokenSource(r.ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// oauthError is the error code of a failed x/oauth2 call ("" when none).
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	if err != nil {
		return "?" + err.Error()
	}
	return ""
}

// redirectQuery checks that a is a redirect to the client's redirect URI
// and returns its query.
func redirectQuery(t *testing.T, a *answer, redirectURI string) url.Values {
	t.Helper()
	if a.status != http.StatusFound && a.status != http.StatusSeeOther {
		t.Fatalf("want a redirect to %s, got %d %q: %.300s", redirectURI, a.status, a.location, a.body)
	}
	u, err := url.Parse(a.location)
	if err != nil {
		t.Fatal(err)
	}
	base := *u
	base.RawQuery = ""
	if base.String() != redirectURI {
		t.Fatalf("want a redirect to %s, got %q", redirectURI, a.location)
	}
	return u.Query()
}

// follow follows the provider's own redirects from u without signing in or
// consenting, and returns the first answer that is not one.
func (b *browser) follow(u string) *answer {
	b.t.Helper()
	a := b.get(u)
	for range 12 {
		if (a.status != http.StatusFound && a.status != http.StatusSeeOther) || !strings.HasPrefix(a.location, b.e.url+"/") {
			return a
		}
		a = b.get(a.location)
	}
	b.t.Fatal("too many redirects")
	return nil
}

// isSignInPage reports whether a is Tessera's sign-in page.
func (b *browser) isSignInPage(a *answer) bool {
	return a.status == http.StatusOK && a.url.Path == "/t/"+slug+"/login"
}

var idField = regexp.MustCompile(`name="id" value="([^"]+)"`)

// authorizeCounting is authorize that also counts the consent pages shown.
func (b *browser) authorizeCounting(u, login string) (*answer, int) {
	b.t.Helper()
	consents := 0
	a := b.get(u)
	for range 12 {
		switch {
		case a.status == http.StatusFound || a.status == http.StatusSeeOther:
			if !strings.HasPrefix(a.location, b.e.url+"/") {
				return a, consents
			}
			a = b.get(a.location)
		case b.isSignInPage(a):
			m := csrfField.FindStringSubmatch(a.body)
			if m == nil {
				b.t.Fatal("no csrf field on the sign-in page")
			}
			a = b.post(b.e.url+"/t/"+slug+"/login/password", url.Values{"csrf": {m[1]}, "login": {login},
				"password": {password}, "return": {a.url.Query().Get("return")}})
		case a.status == http.StatusOK && strings.Contains(a.body, `name="decision"`):
			consents++
			m := csrfField.FindStringSubmatch(a.body)
			id := idField.FindStringSubmatch(a.body)
			a = b.post(b.e.url+"/t/"+slug+"/oauth2/consent", url.Values{"csrf": {m[1]}, "id": {id[1]}, "decision": {"allow"}})
		default:
			return a, consents
		}
	}
	b.t.Fatal("too many steps")
	return nil, 0
}

// endpoint is the URL of one of the provider's endpoints under issuer.
func endpoint(issuer, path string) string { return issuer + "/oauth2/" + path }

// call posts form to url, with HTTP Basic credentials when user is set,
// and decodes the JSON answer.
func call(t *testing.T, u string, form url.Values, user, secret string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(secret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	if m == nil {
		m = map[string]any{"_raw": string(body)}
	}
	return res.StatusCode, m
}

// token posts to the token endpoint of the bootstrap tenant.
func (e *op) token(t *testing.T, form url.Values, user, secret string) (int, map[string]any) {
	t.Helper()
	return call(t, endpoint(e.issuer(), "token"), form, user, secret)
}

// introspectAt asks issuer's introspection endpoint about token, as
// confidential client c (HTTP Basic).
func introspectAt(t *testing.T, issuer string, c *client, token string) map[string]any {
	t.Helper()
	status, m := call(t, endpoint(issuer, "introspect"), url.Values{"token": {token}}, c.cfg.ClientID, c.secret)
	if status != http.StatusOK {
		t.Fatalf("introspection: %d %v", status, m)
	}
	return m
}

func (e *op) introspect(t *testing.T, c *client, token string) map[string]any {
	t.Helper()
	return introspectAt(t, e.issuer(), c, token)
}

// active reports whether an introspection answer says active.
func active(m map[string]any) bool { v, _ := m["active"].(bool); return v }

// revoke revokes token as confidential client c (HTTP Basic); hint may be "".
func (e *op) revoke(t *testing.T, c *client, token, hint string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return call(t, endpoint(e.issuer(), "revoke"), form, c.cfg.ClientID, c.secret)
}

// userinfoStatus calls issuer's userinfo endpoint with a bearer token.
func userinfoStatus(t *testing.T, issuer, token string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, endpoint(issuer, "userinfo"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(body)
}

// verifyJWT checks a JWT's signature against the issuer's JWKS and returns
// its typ header and claims.
func verifyJWT(t *testing.T, issuer, token string) (string, map[string]any) {
	t.Helper()
	ctx := context.Background()
	payload, err := oidc.NewRemoteKeySet(ctx, endpoint(issuer, "keys")).VerifySignature(ctx, token)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return typ, claims
}

// scopesOf splits a space-delimited scope claim.
func scopesOf(v any) []string { s, _ := v.(string); return strings.Fields(s) }

// newClientIn is newClient for tenant sc.
func (e *op) newClientIn(t *testing.T, sc tenant.Scope, name, redirect string, adjust func(*access.OIDCClient)) *client {
	t.Helper()
	app, err := e.srv.Access.CreateApplication(e.ctx, sc, access.NewApplication{Name: name, Kind: access.KindOIDC,
		Roles: []access.AppRole{{Name: "viewer"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := access.DefaultOIDCClient()
	cfg.RedirectURIs = []string{redirect}
	cfg.GrantTypes = []string{access.GrantAuthorizationCode, access.GrantRefreshToken}
	cfg.Scopes = []string{access.ScopeOpenID, access.ScopeProfile, access.ScopeEmail, access.ScopeOfflineAccess}
	if adjust != nil {
		adjust(&cfg)
	}
	c, secret, err := e.srv.Access.CreateOIDCClient(e.ctx, sc, app.ID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &client{app: app, cfg: c, secret: secret}
}

// machine makes a client a client-credentials client for API scope
// orders:read.
func machine(method string) func(*access.OIDCClient) {
	return func(c *access.OIDCClient) {
		c.GrantTypes = []string{access.GrantClientCredentials}
		c.RedirectURIs = nil
		c.Scopes = []string{"orders:read"}
		c.TokenEndpointAuthMethod = method
	}
}

// keyPair is a client's RSA key for private_key_jwt.
type keyPair struct {
	priv *rsa.PrivateKey
	kid  string
}

func newKeyPair(t *testing.T, kid string) keyPair {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{priv: k, kid: kid}
}

// jwks is the public JWK Set of keys.
func jwks(t *testing.T, keys ...keyPair) string {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "RS256", Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertionClaims are a client assertion's claims (RFC 7523 §3): iss =
// sub = client_id, aud = the issuer, a minute to live.
func assertionClaims(clientID, aud string) map[string]any {
	now := time.Now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	return map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti)}
}

// sign signs claims as a compact JWS with alg and key (kid in the header).
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned is a JWT with alg none.
func unsigned(kid string, claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": kid})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// publicKeyDER is the DER of a public key, what a key-confusion
// attacker would use as an HMAC secret.
func publicKeyDER(t *testing.T, k *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// assertionForm is a client-credentials request authenticated by a client
// assertion.
func assertionForm(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
}

// backChannelHost is the host of the back-channel logout receiver: the
// name httptest's certificate is issued to, and not one access refuses as
// loopback or private (checkServerURL).
const backChannelHost = "example.com"

// logoutReceiver starts an https back-channel logout endpoint and routes
// https://example.com to it for this test: Tessera's logout client (a
// plain http.Client) uses http.DefaultTransport, which is swapped for one
// that dials the receiver and trusts its certificate. It returns the URI to
// register and the logout tokens as they arrive.
func logoutReceiver(t *testing.T) (string, <-chan string) {
	t.Helper()
	got := make(chan string, 8)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		got <- r.PostForm.Get("logout_token")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	orig := http.DefaultTransport
	tr := orig.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == backChannelHost+":443" {
			addr = srv.Listener.Addr().String()
		}
		return dialer.DialContext(ctx, network, addr)
	}
	http.DefaultTransport = tr
	t.Cleanup(func() { http.DefaultTransport = orig })
	return "https://" + backChannelHost + "/backchannel-logout", got
}

// app is newClient with the name made unique to the running test, so that
// tests can share one provider.
func (e *op) app(t *testing.T, name, redirect string, adjust func(*access.OIDCClient)) *client {
	t.Helper()
	return e.newClient(t, name+" "+testTag(t), redirect, adjust)
}

// person is newUser with a user name unique to the running test
// (base.tag); sign in with its Username.
func (e *op) person(t *testing.T, base string, org tenant.OrgID) *user.User {
	t.Helper()
	return e.newUser(t, base+"."+strings.ToLower(testTag(t)), org)
}

// testTag is the last part of the running test's name.
func testTag(t *testing.T) string {
	n := t.Name()
	return n[strings.LastIndexByte(n, '/')+1:]
}

// signIn submits the sign-in page a as login and follows the provider's
// redirects from there.
func (b *browser) signIn(a *answer, login string) *answer {
	b.t.Helper()
	if !b.isSignInPage(a) {
		b.t.Fatalf("want the sign-in page, got %d %q", a.status, a.location)
	}
	m := csrfField.FindStringSubmatch(a.body)
	if m == nil {
		b.t.Fatal("no csrf field on the sign-in page")
	}
	next := b.post(b.e.url+"/t/"+slug+"/login/password", url.Values{"csrf": {m[1]}, "login": {login},
		"password": {password}, "return": {a.url.Query().Get("return")}})
	if next.location != "" && strings.HasPrefix(next.location, b.e.url+"/") {
		return b.follow(next.location)
	}
	return next
}

// after follows the provider's own redirect a points to, if any.
func (b *browser) after(a *answer) *answer {
	b.t.Helper()
	if (a.status == http.StatusFound || a.status == http.StatusSeeOther) && strings.HasPrefix(a.location, b.e.url+"/") {
		return b.follow(a.location)
	}
	return a
}
