package oidcop_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Negative tests: what an attacker or a broken client tries is refused,
// and the legitimate variant still works.

// noCode fails unless a is no redirect carrying a code (nor any redirect
// to a URI starting with notTo, when given).
func noCode(t *testing.T, what string, a *answer, notTo string) {
	t.Helper()
	if notTo != "" && strings.HasPrefix(a.location, notTo) {
		t.Fatalf("%s: redirected to the unregistered URI %q", what, a.location)
	}
	if u, err := url.Parse(a.location); err == nil && u.Query().Get("code") != "" {
		t.Fatalf("%s: a code was issued: %q", what, a.location)
	}
}

// TestSecurity runs the negative tests against one provider per database.
func TestSecurity(t *testing.T) {
	eachOP(t, func(t *testing.T, e *op) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T, *op)
		}{
			{"CodeReplay", testCodeReplay},
			{"RedirectURIExactMatch", testRedirectURIExactMatch},
			{"RedirectURIAtTokenExchange", testRedirectURIAtTokenExchange},
			{"PKCE", testPKCE},
			{"PKCEDowngrade", testPKCEDowngrade},
			{"RefreshReuse", testRefreshReuse},
			{"ClientAuthentication", testClientAuthentication},
			{"FailedClientAuthDoesNotConsumeCode", testFailedClientAuthDoesNotConsumeCode},
			{"CodeOfAnotherClient", testCodeOfAnotherClient},
			{"RefreshScopeEscalation", testRefreshScopeEscalation},
			{"LogoutRefusals", testLogoutRefusals},
			{"AuthorizeRefusals", testAuthorizeRefusals},
			{"IDTokenIsNotAnAccessToken", testIDTokenIsNotAnAccessToken},
			{"ForgedAccessToken", testForgedAccessToken},
			{"IntrospectionClientAuth", testIntrospectionClientAuth},
			{"ClientAssertionReplay", testClientAssertionReplay},
			{"TenantIsolation", testTenantIsolation},
			{"UserinfoInvalidTokenIs401", testUserinfoInvalidTokenIs401},
			{"PrivateKeyJWTForgeries", testPrivateKeyJWTForgeries},
			{"LoginCSRF", testLoginCSRF},
			{"ConsentCSRF", testConsentCSRF},
			{"LoopbackRedirect", testLoopbackRedirect},
			{"AccessFollowsUser", testAccessFollowsUser},
			{"UnassignedUserAccessDenied", testUnassignedUserAccessDenied},
			{"AccessCheckedAtExchange", testAccessCheckedAtExchange},
			{"ApplicationSwitchedOff", testApplicationSwitchedOff},
			{"PromptNoneWithoutSession", testPromptNoneWithoutSession},
			// Last: these move the shared clock on.
			{"ExpiredAccessToken", testExpiredAccessToken},
			{"ExpiredCode", testExpiredCode},
			{"ExpiredRefreshToken", testExpiredRefreshToken},
		} {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
		}
	})
}

// testCodeReplay proves a code works once: the second exchange fails and
// revokes the tokens of the first (RFC 6749 §4.1.2, RFC 9700 §4.5.1).
func testCodeReplay(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	code, verifier := r.code(e.browser(t), alice.Username)
	tok, err := r.exchange(code, verifier)
	if err != nil || !active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatalf("first exchange: %v", err)
	}
	if _, err := r.exchange(code, verifier); oauthError(err) != "invalid_grant" {
		t.Fatalf("replayed code: want invalid_grant, got %v", err)
	}
	if active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatal("the access token of a replayed code is still active")
	}
	if _, err := r.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("the refresh token of a replayed code: want invalid_grant, got %v", err)
	}
}

// testRedirectURIExactMatch proves the authorize endpoint compares
// redirect_uri as an exact string (RFC 9700 §4.1.3) and never redirects to
// an unregistered one (RFC 6749 §4.1.2.1), while the registered one works.
func testRedirectURIExactMatch(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	for _, bad := range []string{
		redirect + "/x",                          // prefix match
		"https://app.example.net/callbackx",      // prefix match without a slash
		"https://APP.example.net/callback",       // host case
		"https://app.example.net/Callback",       // path case
		redirect + "/",                           // trailing slash
		redirect + "?next=https://evil.example",  // extra query
		"https://app.example.net:443/callback",   // explicit default port
		"https://app.example.net/callback/../cb", // dot segments
		"https://evil.example/callback",          // another host
	} {
		u := r.authURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("redirect_uri", bad))
		a := e.browser(t).authorize(u, alice.Username)
		noCode(t, bad, a, bad)
		if a.status < 400 {
			t.Fatalf("%s: want an error page, got %d %q", bad, a.status, a.location)
		}
	}
	if q := redirectQuery(t, e.browser(t).authorize(r.authURL(oauth2.GenerateVerifier()), alice.Username), redirect); q.Get("code") == "" {
		t.Fatal("the registered redirect_uri got no code")
	}
}

// testRedirectURIAtTokenExchange proves the token endpoint refuses a code
// with a redirect_uri other than the authorization request's (RFC 6749
// §4.1.3), even one registered for the client.
func testRedirectURIAtTokenExchange(t *testing.T, e *op) {
	const other = "https://app.example.net/other"
	c := e.app(t, "Portal", redirect, func(c *access.OIDCClient) { c.RedirectURIs = append(c.RedirectURIs, other) })
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	for _, uri := range []string{other, "", redirect + "/"} {
		code, verifier := r.code(e.browser(t), alice.Username)
		status, m := e.token(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
			"redirect_uri": {uri}}, c.cfg.ClientID, c.secret)
		if status != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("redirect_uri %q: want invalid_grant, got %d %v", uri, status, m)
		}
	}
}

// testPKCE proves PKCE is enforced: no code_challenge for a client that
// requires it, the plain method and a wrong code_verifier are refused; the
// right verifier works.
func testPKCE(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil) // RequirePKCE by default
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)

	a := e.browser(t).authorize(r.conf.AuthCodeURL("st4te"), alice.Username)
	if q := redirectQuery(t, a, redirect); q.Get("error") != "invalid_request" || q.Get("code") != "" || q.Get("state") != "st4te" {
		t.Fatalf("no code_challenge: want error=invalid_request, got %q", a.location)
	}
	v := oauth2.GenerateVerifier()
	a = e.browser(t).authorize(r.conf.AuthCodeURL("st4te", oauth2.SetAuthURLParam("code_challenge", v),
		oauth2.SetAuthURLParam("code_challenge_method", "plain")), alice.Username)
	if q := redirectQuery(t, a, redirect); q.Get("error") != "invalid_request" || q.Get("code") != "" {
		t.Fatalf("code_challenge_method=plain: want error=invalid_request, got %q", a.location)
	}

	code, _ := r.code(e.browser(t), alice.Username)
	if _, err := r.exchange(code, oauth2.GenerateVerifier()); oauthError(err) != "invalid_grant" {
		t.Fatalf("wrong code_verifier: want invalid_grant, got %v", err)
	}
	code, _ = r.code(e.browser(t), alice.Username)
	if _, err := r.conf.Exchange(r.ctx, code); oauthError(err) == "" {
		t.Fatal("a code with a challenge was redeemed without a code_verifier")
	}
	code, verifier := r.code(e.browser(t), alice.Username)
	if _, err := r.exchange(code, verifier); err != nil {
		t.Fatalf("right code_verifier: %v", err)
	}
}

// testPKCEDowngrade proves a code_verifier is refused for a code whose
// request carried no code_challenge (RFC 9700 §4.8.2), for a client that
// does not require PKCE; without one the code works.
func testPKCEDowngrade(t *testing.T, e *op) {
	c := e.app(t, "Legacy", redirect, func(c *access.OIDCClient) { c.RequirePKCE = false })
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	get := func() string {
		a := e.browser(t).authorize(r.conf.AuthCodeURL("st4te"), alice.Username)
		return redirectQuery(t, a, redirect).Get("code")
	}
	if _, err := r.exchange(get(), oauth2.GenerateVerifier()); oauthError(err) == "" {
		t.Fatal("a code_verifier was accepted for a request without code_challenge")
	}
	if _, err := r.conf.Exchange(r.ctx, get()); err != nil {
		t.Fatalf("no PKCE, no verifier: %v", err)
	}
}

// testRefreshReuse proves reuse detection: a rotated-out refresh token
// presented again fails and ends the family, so the newest refresh token
// and its access token are dead too (RFC 9700 §4.14.2).
func testRefreshReuse(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	first := r.login(e.browser(t), alice.Username)
	second, err := r.refresh(first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.refresh(first.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("reused refresh token: want invalid_grant, got %v", err)
	}
	if _, err := r.refresh(second.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("newest refresh token after reuse: want invalid_grant, got %v", err)
	}
	if active(e.introspect(t, c, second.AccessToken)) {
		t.Fatal("the newest access token is still active after refresh-token reuse")
	}
}

// testClientAuthentication proves the token endpoint holds each client to
// its registered method: a wrong secret, the other secret method, and two
// methods at once (RFC 6749 §2.3) are refused; the registered method works.
func testClientAuthentication(t *testing.T, e *op) {
	key := newKeyPair(t, "k1")
	basic := e.app(t, "Basic", redirect, nil)
	post := e.app(t, "Post", redirect, func(c *access.OIDCClient) { c.TokenEndpointAuthMethod = access.AuthClientSecretPost })
	alice := e.person(t, "alice", "")
	e.assign(t, basic.app.ID, alice, "viewer")
	e.assign(t, post.app.ID, alice, "viewer")
	codeForm := func(c *client) url.Values {
		code, verifier := e.rp(t, c).code(e.browser(t), alice.Username)
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
	}
	with := func(f url.Values, kv ...string) url.Values {
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	assertion := sign(t, "RS256", key.priv, key.kid, assertionClaims(basic.cfg.ClientID, e.issuer()))
	refused := []struct {
		name         string
		form         url.Values
		user, secret string
	}{
		{"wrong secret (basic)", codeForm(basic), basic.cfg.ClientID, "wrong-" + basic.secret},
		{"no credentials", with(codeForm(basic), "client_id", basic.cfg.ClientID), "", ""},
		{"basic client using post", with(codeForm(basic), "client_id", basic.cfg.ClientID, "client_secret", basic.secret), "", ""},
		{"post client using basic", codeForm(post), post.cfg.ClientID, post.secret},
		{"wrong secret (post)", with(codeForm(post), "client_id", post.cfg.ClientID, "client_secret", "wrong"), "", ""},
		{"basic and post at once", with(codeForm(basic), "client_id", basic.cfg.ClientID, "client_secret", basic.secret),
			basic.cfg.ClientID, basic.secret},
		{"basic and assertion at once", with(codeForm(basic), "client_assertion", assertion,
			"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), basic.cfg.ClientID, basic.secret},
	}
	for _, tc := range refused {
		status, m := e.token(t, tc.form, tc.user, tc.secret)
		if status == http.StatusOK || (m["error"] != "invalid_client" && m["error"] != "invalid_request") {
			t.Fatalf("%s: want invalid_client, got %d %v", tc.name, status, m)
		}
		if tc.user != "" && status != http.StatusUnauthorized {
			t.Fatalf("%s: a failed HTTP Basic authentication must answer 401 (RFC 6749 §5.2), got %d", tc.name, status)
		}
	}
	if status, m := e.token(t, codeForm(basic), basic.cfg.ClientID, basic.secret); status != http.StatusOK {
		t.Fatalf("basic client with basic: %d %v", status, m)
	}
	if status, m := e.token(t, with(codeForm(post), "client_id", post.cfg.ClientID, "client_secret", post.secret), "", ""); status != http.StatusOK {
		t.Fatalf("post client with post: %d %v", status, m)
	}
}

// testFailedClientAuthDoesNotConsumeCode proves a token request that fails
// client authentication leaves the code for its client: whoever holds a
// stolen code without the secret cannot burn it (RFC 6749 §4.1.3 has the
// client authenticated before the code is looked at).
func testFailedClientAuthDoesNotConsumeCode(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	code, verifier := r.code(e.browser(t), alice.Username)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
	if status, m := e.token(t, form, c.cfg.ClientID, "wrong"); status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: want 401, got %d %v", status, m)
	}
	if _, err := r.exchange(code, verifier); err != nil {
		t.Fatalf("the client's own exchange after a failed attempt by someone without its secret: %v", err)
	}
}

// testCodeOfAnotherClient proves a code or refresh token issued to client
// A cannot be used by client B, even with B's valid credentials and the
// same redirect URI (RFC 6749 §4.1.3, §6), and B's attempts leave A's
// tokens alone; B cannot revoke A's tokens either (RFC 7009 §2.1).
func testCodeOfAnotherClient(t *testing.T, e *op) {
	a := e.app(t, "A", redirect, nil)
	b := e.app(t, "B", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, a.app.ID, alice, "viewer")
	e.assign(t, b.app.ID, alice, "viewer")
	rA, rB := e.rp(t, a), e.rp(t, b)
	code, verifier := rA.code(e.browser(t), alice.Username)
	if _, err := rB.exchange(code, verifier); oauthError(err) != "invalid_grant" {
		t.Fatalf("A's code redeemed by B: want invalid_grant, got %v", err)
	}
	tok := rA.login(e.browser(t), alice.Username)
	if _, err := rB.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("A's refresh token used by B: want invalid_grant, got %v", err)
	}
	e.revoke(t, b, tok.AccessToken, "")
	e.revoke(t, b, tok.RefreshToken, "")
	if !active(e.introspect(t, a, tok.AccessToken)) {
		t.Fatal("B revoked A's access token")
	}
	if _, err := rA.refresh(tok.RefreshToken); err != nil {
		t.Fatalf("A's refresh token after B's attempts: %v", err)
	}
}

// testRefreshScopeEscalation proves a refresh cannot widen the grant's
// scopes (RFC 6749 §6) but may narrow them.
func testRefreshScopeEscalation(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, func(c *access.OIDCClient) { c.Scopes = append(c.Scopes, "orders:read") })
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c, "openid", "profile", "offline_access")
	tok := r.login(e.browser(t), alice.Username)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid profile email orders:read"}}
	if status, m := e.token(t, form, c.cfg.ClientID, c.secret); status == http.StatusOK || m["error"] != "invalid_scope" {
		t.Fatalf("wider scope on refresh: want invalid_scope, got %d %v", status, m)
	}
	form.Set("scope", "openid offline_access")
	status, m := e.token(t, form, c.cfg.ClientID, c.secret)
	if status != http.StatusOK {
		t.Fatalf("narrower scope on refresh: %d %v", status, m)
	}
	if got := e.introspect(t, c, m["access_token"].(string)); slices.Contains(scopesOf(got["scope"]), "profile") {
		t.Fatalf("narrowed token keeps profile: %v", got["scope"])
	}
}

// testLogoutRefusals proves end_session does not redirect to an
// unregistered post_logout_redirect_uri, and ends no session without an
// id_token_hint naming the browser's user (a logout CSRF).
func testLogoutRefusals(t *testing.T, e *op) {
	const bye = "https://app.example.net/bye"
	c := e.app(t, "Portal", redirect, func(c *access.OIDCClient) { c.PostLogoutRedirectURIs = []string{bye} })
	alice, bob := e.person(t, "alice", ""), e.person(t, "bob", "")
	e.assign(t, c.app.ID, alice, "viewer")
	e.assign(t, c.app.ID, bob, "viewer")
	r := e.rp(t, c, "openid")
	b := e.browser(t)
	tok := r.login(b, alice.Username)
	bobsHint := r.login(e.browser(t), bob.Username).Extra("id_token").(string)
	hint := tok.Extra("id_token").(string)
	for _, evil := range []string{"https://evil.example/bye", bye + "/x", "https://APP.example.net/bye"} {
		q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {evil}}
		noCode(t, "logout to "+evil, b.get(endpoint(e.issuer(), "end_session")+"?"+q.Encode()), evil)
	}
	for name, q := range map[string]url.Values{
		"no id_token_hint":              {"client_id": {c.cfg.ClientID}, "post_logout_redirect_uri": {bye}},
		"another user's id_token_hint":  {"id_token_hint": {bobsHint}, "post_logout_redirect_uri": {bye}},
		"a forged id_token_hint (none)": {"id_token_hint": {unsigned("", map[string]any{"iss": e.issuer(), "sub": string(alice.ID), "aud": c.cfg.ClientID})}},
	} {
		b.get(endpoint(e.issuer(), "end_session") + "?" + q.Encode())
		if a := b.follow(r.authURL(oauth2.GenerateVerifier())); redirectQuery(t, a, redirect).Get("code") == "" {
			t.Fatalf("%s: the session ended: %d %q", name, a.status, a.location)
		}
	}
	if !active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatal("refused logouts revoked the session's grant")
	}
}

// testAuthorizeRefusals proves the authorize endpoint refuses the implicit
// flow (RFC 9700 §2.1.2) without handing out a token, and an unknown
// client_id without redirecting anywhere.
func testAuthorizeRefusals(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	for _, rt := range []string{"token", "id_token", "id_token token", "code id_token"} {
		a := e.browser(t).authorize(r.authURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("response_type", rt)), alice.Username)
		if strings.Contains(a.location, "access_token=") || strings.Contains(a.location, "id_token=") {
			t.Fatalf("response_type %q handed out a token: %q", rt, a.location)
		}
		noCode(t, "response_type "+rt, a, "")
		if u, _ := url.Parse(a.location); a.status < 400 && (u == nil || (u.Query().Get("error") == "" && !strings.Contains(u.Fragment, "error="))) {
			t.Fatalf("response_type %q: want an error, got %d %q", rt, a.status, a.location)
		}
	}
	q := url.Values{"client_id": {"cli_unknown"}, "response_type": {"code"}, "redirect_uri": {"https://evil.example/cb"},
		"scope": {"openid"}, "code_challenge": {"x" + strings.Repeat("a", 42)}, "code_challenge_method": {"S256"}}
	a := e.browser(t).follow(endpoint(e.issuer(), "authorize") + "?" + q.Encode())
	noCode(t, "unknown client", a, "https://evil.example")
	if a.status < 400 {
		t.Fatalf("unknown client: want an error page, got %d %q", a.status, a.location)
	}
}

// testIDTokenIsNotAnAccessToken proves an ID token presented as a bearer
// token is refused: introspection inactive, userinfo refused (RFC 9068
// §4: typ at+jwt tells them apart).
func testIDTokenIsNotAnAccessToken(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	tok := e.rp(t, c).login(e.browser(t), alice.Username)
	idt := tok.Extra("id_token").(string)
	if m := e.introspect(t, c, idt); active(m) {
		t.Fatalf("ID token introspected as active: %v", m)
	}
	if status, _, body := userinfoStatus(t, e.issuer(), idt); status == http.StatusOK {
		t.Fatalf("userinfo answered an ID token: %s", body)
	}
}

// testForgedAccessToken proves only the tenant's own signature makes a JWT
// access token: alg none, HS256 keyed with the tenant's public key, a
// tampered payload and another tenant's signature are inactive, though
// each carries a live token's jti.
func testForgedAccessToken(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	tok := e.rp(t, c).login(e.browser(t), alice.Username)
	jws, err := jose.ParseSignedCompact(tok.AccessToken, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	kid := jws.Signatures[0].Protected.KeyID
	var claims map[string]any
	_ = json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims)
	res, err := http.Get(endpoint(e.issuer(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	_ = json.NewDecoder(res.Body).Decode(&set)
	res.Body.Close()
	keys := set.Key(kid)
	if len(keys) == 0 {
		t.Fatalf("kid %s not in the JWKS", kid)
	}
	pub, _ := keys[0].Key.(*rsa.PublicKey)
	if pub == nil {
		t.Fatalf("the token's key is not RSA: %T", keys[0].Key)
	}
	withType := func(alg jose.SignatureAlgorithm, key any, kid string, cl map[string]any) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
			(&jose.SignerOptions{}).WithType("at+jwt"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(cl)
		o, err := signer.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := o.CompactSerialize()
		return out
	}
	parts := strings.Split(tok.AccessToken, ".")
	widened := maps.Clone(claims)
	widened["scope"] = "openid profile email admin"
	tampered, _ := json.Marshal(widened)
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid})
	forgeries := map[string]string{
		"alg none":                        base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + ".",
		"HS256 keyed with the public key": withType(jose.HS256, publicKeyDER(t, pub), kid, claims),
		"tampered payload":                parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2],
		"a stranger's key, same kid":      withType(jose.RS256, newKeyPair(t, kid).priv, kid, claims),
	}
	for name, f := range forgeries {
		if m := e.introspect(t, c, f); active(m) {
			t.Fatalf("%s: forged access token is active: %v", name, m)
		}
		if status, _, _ := userinfoStatus(t, e.issuer(), f); status == http.StatusOK {
			t.Fatalf("%s: userinfo answered a forged token", name)
		}
	}
	if !active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatal("the genuine token is inactive")
	}
}

// testIntrospectionClientAuth proves introspection answers authenticated
// clients of its tenant only (RFC 7662 §2.1): no credentials, a wrong
// secret and another tenant's client are refused with 401.
func testIntrospectionClientAuth(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	tok := e.rp(t, c).login(e.browser(t), alice.Username)
	other, err := e.srv.Tenants.CreateTenant(e.ctx, "elsewhere", "Elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	foreign := e.newClientIn(t, tenant.Scope{Tenant: other.ID}, "Foreign", redirect, nil)
	u := endpoint(e.issuer(), "introspect")
	for _, tc := range []struct {
		name, user, secret string
		form               url.Values
	}{
		{"anonymous", "", "", url.Values{"token": {tok.AccessToken}}},
		{"client_id without a secret", "", "", url.Values{"token": {tok.AccessToken}, "client_id": {c.cfg.ClientID}}},
		{"wrong secret", c.cfg.ClientID, "wrong", url.Values{"token": {tok.AccessToken}}},
		{"another tenant's client", foreign.cfg.ClientID, foreign.secret, url.Values{"token": {tok.AccessToken}}},
	} {
		if status, m := call(t, u, tc.form, tc.user, tc.secret); status != http.StatusUnauthorized || active(m) {
			t.Fatalf("%s: want 401, got %d %v", tc.name, status, m)
		}
	}
}

// testClientAssertionReplay proves a client assertion is accepted once:
// its jti may not be used again (OIDC Core §9: these tokens MUST only be
// used once; RFC 7523 §3).
func testClientAssertionReplay(t *testing.T, e *op) {
	key := newKeyPair(t, "k1")
	c := e.app(t, "Batch jwt", "", func(c *access.OIDCClient) {
		machine(access.AuthPrivateKeyJWT)(c)
		c.JWKS = jwks(t, key)
	})
	a := sign(t, jose.RS256, key.priv, key.kid, assertionClaims(c.cfg.ClientID, e.issuer()))
	if status, m := e.token(t, assertionForm(a), "", ""); status != http.StatusOK {
		t.Fatalf("first use: %d %v", status, m)
	}
	if status, m := e.token(t, assertionForm(a), "", ""); status != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Fatalf("replayed assertion: want 401 invalid_client, got %d %v", status, m)
	}
}

// testExpiredRefreshToken proves a refresh token family ends at its
// absolute lifetime, rotation included (the services' clock).
func testExpiredRefreshToken(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, func(c *access.OIDCClient) { c.RefreshTokenLifetimeSeconds = 3600 })
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	tok := r.login(e.browser(t), alice.Username)
	e.clk.Advance(3599 * time.Second)
	next, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("within the lifetime: %v", err)
	}
	e.clk.Advance(2 * time.Second)
	if _, err := r.refresh(next.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("past the family's lifetime: want invalid_grant, got %v", err)
	}
}

// testExpiredCode proves a code is refused once its lifetime has passed
// (RFC 6749 §4.1.2), by the services' clock.
func testExpiredCode(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	code, verifier := r.code(e.browser(t), alice.Username)
	e.clk.Advance(2 * time.Minute)
	if _, err := r.exchange(code, verifier); oauthError(err) != "invalid_grant" {
		t.Fatalf("expired code: want invalid_grant, got %v", err)
	}
}

// testTenantIsolation proves tokens and codes of one tenant mean nothing
// at another tenant's endpoints: introspection inactive, userinfo refused,
// code and refresh token invalid_grant; tenant A's code still works at A.
func testTenantIsolation(t *testing.T, e *op) {
	other, err := e.srv.Tenants.CreateTenant(e.ctx, "other", "Other Corp")
	if err != nil {
		t.Fatal(err)
	}
	issuerB := e.url + "/t/other"
	alice := e.person(t, "alice", "")
	jwtA := e.app(t, "Portal", redirect, nil)
	opaqueA := e.app(t, "Portal opaque", redirect, func(c *access.OIDCClient) { c.AccessTokenFormat = access.TokenFormatOpaque })
	e.assign(t, jwtA.app.ID, alice, "viewer")
	e.assign(t, opaqueA.app.ID, alice, "viewer")
	clientB := e.newClientIn(t, tenant.Scope{Tenant: other.ID}, "Portal B", redirect, nil)
	rB := e.rpAt(t, issuerB, clientB)

	for _, c := range []*client{jwtA, opaqueA} {
		tok := e.rp(t, c).login(e.browser(t), alice.Username)
		if m := introspectAt(t, issuerB, clientB, tok.AccessToken); active(m) {
			t.Fatalf("%s: tenant A's access token is active at tenant B: %v", c.app.Name, m)
		}
		if status, _, body := userinfoStatus(t, issuerB, tok.AccessToken); status == http.StatusOK {
			t.Fatalf("%s: tenant B's userinfo answered for tenant A's token: %s", c.app.Name, body)
		}
		if _, err := rB.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("%s: tenant A's refresh token at tenant B: want invalid_grant, got %v", c.app.Name, err)
		}
		if !active(e.introspect(t, c, tok.AccessToken)) {
			t.Fatalf("%s: tenant B's calls disturbed tenant A's token", c.app.Name)
		}
	}

	// A browser signed in at tenant A is a stranger at tenant B.
	ba := e.browser(t)
	e.rp(t, jwtA).code(ba, alice.Username)
	a := ba.follow(rB.authURL(oauth2.GenerateVerifier()))
	noCode(t, "tenant A's session at tenant B", a, "")
	if a.status != http.StatusOK || a.url.Path != "/t/other/login" {
		t.Fatalf("tenant A's session at tenant B: want B's sign-in page, got %d %q %s", a.status, a.location, a.url)
	}

	rA := e.rp(t, jwtA)
	code, verifier := rA.code(e.browser(t), alice.Username)
	if _, err := rB.exchange(code, verifier); oauthError(err) != "invalid_grant" {
		t.Fatalf("tenant A's code at tenant B: want invalid_grant, got %v", err)
	}
	if _, err := rA.exchange(code, verifier); err != nil {
		t.Fatalf("tenant A's code at tenant A after B refused it: %v", err)
	}
}

// testExpiredAccessToken proves an access token past its lifetime (by the
// services' clock) is inactive at introspection and refused at userinfo.
func testExpiredAccessToken(t *testing.T, e *op) {
	alice := e.person(t, "alice", "")
	var toks []string
	var clients []*client
	for _, format := range []string{access.TokenFormatJWT, access.TokenFormatOpaque} {
		c := e.app(t, "Portal "+format, redirect, func(c *access.OIDCClient) {
			c.AccessTokenFormat, c.AccessTokenLifetimeSeconds = format, 300
		})
		e.assign(t, c.app.ID, alice, "viewer")
		toks = append(toks, e.rp(t, c).login(e.browser(t), alice.Username).AccessToken)
		clients = append(clients, c)
	}
	e.clk.Advance(299 * time.Second)
	for i, tok := range toks {
		if !active(e.introspect(t, clients[i], tok)) {
			t.Fatalf("%s: inactive before its expiry", clients[i].app.Name)
		}
	}
	e.clk.Advance(2 * time.Second)
	for i, tok := range toks {
		if m := e.introspect(t, clients[i], tok); active(m) {
			t.Fatalf("%s: expired access token is active: %v", clients[i].app.Name, m)
		}
		if status, _, body := userinfoStatus(t, e.issuer(), tok); status == http.StatusOK {
			t.Fatalf("%s: userinfo answered an expired token: %s", clients[i].app.Name, body)
		}
	}
}

// testUserinfoInvalidTokenIs401 proves userinfo answers a revoked or
// unknown bearer token with 401 and WWW-Authenticate error="invalid_token"
// (OIDC Core §5.3.3, RFC 6750 §3.1).
func testUserinfoInvalidTokenIs401(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	tok := e.rp(t, c).login(e.browser(t), alice.Username)
	if status, _, body := userinfoStatus(t, e.issuer(), tok.AccessToken); status != http.StatusOK {
		t.Fatalf("live token: %d %s", status, body)
	}
	e.revoke(t, c, tok.AccessToken, "access_token")
	for _, bad := range []string{tok.AccessToken, "tat_nosuchtoken"} {
		status, hdr, body := userinfoStatus(t, e.issuer(), bad)
		if status != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("dead token: want 401 with WWW-Authenticate invalid_token, got %d %q %s", status,
				hdr.Get("WWW-Authenticate"), body)
		}
	}
}

// testPrivateKeyJWTForgeries proves forged or stale client assertions are
// refused with invalid_client: alg none, HS256 keyed with the client's
// public key (key confusion), wrong audience, expired, an unregistered key,
// the registered kid signed by another key, iss different from sub. A
// proper assertion works.
func testPrivateKeyJWTForgeries(t *testing.T, e *op) {
	key, stranger := newKeyPair(t, "k1"), newKeyPair(t, "k2")
	c := e.app(t, "Batch jwt", "", func(c *access.OIDCClient) {
		machine(access.AuthPrivateKeyJWT)(c)
		c.JWKS = jwks(t, key)
	})
	other := e.app(t, "Other batch", "", machine(access.AuthClientSecretBasic))
	id := c.cfg.ClientID
	claims := func(change func(map[string]any)) map[string]any {
		m := assertionClaims(id, e.issuer())
		if change != nil {
			change(m)
		}
		return m
	}
	der := publicKeyDER(t, &key.priv.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pkcs1 := x509.MarshalPKCS1PublicKey(&key.priv.PublicKey)
	past := time.Now().Add(-10 * time.Minute)
	forgeries := map[string]string{
		"alg none":              unsigned(key.kid, claims(nil)),
		"HS256 with public DER": sign(t, jose.HS256, der, key.kid, claims(nil)),
		"HS256 with public PEM": sign(t, jose.HS256, pemKey, key.kid, claims(nil)),
		"HS256 with PKCS1":      sign(t, jose.HS256, pkcs1, key.kid, claims(nil)),
		"wrong audience":        sign(t, jose.RS256, key.priv, key.kid, claims(func(m map[string]any) { m["aud"] = "https://elsewhere.example" })),
		"other tenant audience": sign(t, jose.RS256, key.priv, key.kid, claims(func(m map[string]any) { m["aud"] = e.url + "/t/other" })),
		"expired": sign(t, jose.RS256, key.priv, key.kid, claims(func(m map[string]any) {
			m["iat"], m["exp"] = past.Add(-time.Minute).Unix(), past.Unix()
		})),
		"no exp":                    sign(t, jose.RS256, key.priv, key.kid, claims(func(m map[string]any) { delete(m, "exp") })),
		"unregistered key":          sign(t, jose.RS256, stranger.priv, stranger.kid, claims(nil)),
		"registered kid, other key": sign(t, jose.RS256, stranger.priv, key.kid, claims(nil)),
		"iss is not sub":            sign(t, jose.RS256, key.priv, key.kid, claims(func(m map[string]any) { m["sub"] = other.cfg.ClientID })),
		"for another client": sign(t, jose.RS256, key.priv, key.kid, claims(func(m map[string]any) {
			m["iss"], m["sub"] = other.cfg.ClientID, other.cfg.ClientID
		})),
	}
	for name, a := range forgeries {
		status, m := e.token(t, assertionForm(a), "", "")
		if status != http.StatusUnauthorized || m["error"] != "invalid_client" {
			t.Errorf("%s: want 401 invalid_client, got %d %v", name, status, m)
		}
	}
	if status, m := e.token(t, assertionForm(sign(t, jose.RS256, key.priv, key.kid, claims(nil))), "", ""); status != http.StatusOK {
		t.Fatalf("proper assertion: %d %v", status, m)
	}
}

// testConsentCSRF proves the consent form takes effect only with its CSRF
// token and only in the browser that started the request: a post without
// the token, and one from another browser with that browser's own token,
// issue no code; the user's own post does.
func testConsentCSRF(t *testing.T, e *op) {
	c := e.app(t, "Third party", redirect, func(c *access.OIDCClient) { c.RequireConsent = true })
	victim, mallory := e.person(t, "victim", ""), e.person(t, "mallory", "")
	e.assign(t, c.app.ID, victim, "viewer")
	e.assign(t, c.app.ID, mallory, "viewer")
	r := e.rp(t, c)
	consentPage := func(b *browser, login string) (csrf, id string) {
		page := b.signIn(b.follow(r.authURL(oauth2.GenerateVerifier())), login)
		m, i := csrfField.FindStringSubmatch(page.body), idField.FindStringSubmatch(page.body)
		if m == nil || i == nil {
			t.Fatalf("want the consent page, got %d %q", page.status, page.location)
		}
		return m[1], i[1]
	}
	vb, mb := e.browser(t), e.browser(t)
	vCSRF, vID := consentPage(vb, victim.Username)
	mCSRF, _ := consentPage(mb, mallory.Username)
	consentURL := e.url + "/t/" + slug + "/oauth2/consent"
	noCode(t, "consent without csrf", vb.after(vb.post(consentURL, url.Values{"id": {vID}, "decision": {"allow"}})), "")
	noCode(t, "consent with a wrong csrf", vb.after(vb.post(consentURL, url.Values{"csrf": {mCSRF}, "id": {vID}, "decision": {"allow"}})), "")
	noCode(t, "victim's request allowed from another browser",
		mb.after(mb.post(consentURL, url.Values{"csrf": {mCSRF}, "id": {vID}, "decision": {"allow"}})), "")
	if ok, _ := e.srv.Grants.Consented(e.ctx, e.tenant, victim.ID, c.app.ID, []string{"openid"}); ok {
		t.Fatal("a forged consent was recorded")
	}
	a := vb.post(consentURL, url.Values{"csrf": {vCSRF}, "id": {vID}, "decision": {"allow"}})
	if q := redirectQuery(t, vb.after(a), redirect); q.Get("code") == "" {
		t.Fatal("the user's own consent issued no code")
	}
}

// testLoopbackRedirect proves the loopback exception for native apps
// (RFC 8252 §7.3) lets only the port vary: path, host and tricks with
// user info are refused.
func testLoopbackRedirect(t *testing.T, e *op) {
	const registered = "http://127.0.0.1/callback"
	c := e.app(t, "Desktop", registered, func(c *access.OIDCClient) {
		c.Type, c.TokenEndpointAuthMethod = access.ClientPublic, access.AuthNone
	})
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	for _, bad := range []string{
		"http://127.0.0.1:51234/callback/x",
		"http://127.0.0.1:51234/Callback",
		"http://127.0.0.1.evil.example:51234/callback",
		"http://evil.example:51234/callback",
		"http://127.0.0.1:51234@evil.example/callback",
		"https://127.0.0.1:51234/callback",
		"http://127.0.0.2:51234/callback",
		"http://[::1]:51234/callback",
		"http://localhost:51234/callback",
	} {
		u := r.authURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("redirect_uri", bad))
		a := e.browser(t).authorize(u, alice.Username)
		noCode(t, bad, a, bad)
	}
	good := "http://127.0.0.1:51234/callback"
	u := r.authURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("redirect_uri", good))
	if q := redirectQuery(t, e.browser(t).authorize(u, alice.Username), good); q.Get("code") == "" {
		t.Fatalf("loopback on another port: no code")
	}
}

// testLoginCSRF proves an authorization request finishes only in the
// browser that started it: its sign-in hand-over (/oauth2/login?id=) and
// its callback (/oauth2/authorize/callback?id=) opened in another, signed-in
// browser issue no code; the starting browser still gets its code.
func testLoginCSRF(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	mallory, victimUser := e.person(t, "mallory", ""), e.person(t, "victim", "")
	e.assign(t, c.app.ID, mallory, "viewer")
	e.assign(t, c.app.ID, victimUser, "viewer")
	r := e.rp(t, c)
	victim := e.browser(t)
	r.code(victim, victimUser.Username) // the victim is signed in to Tessera

	attacker := e.browser(t)
	a := attacker.get(r.authURL(oauth2.GenerateVerifier()))
	loginURL := a.location
	if !strings.Contains(loginURL, "/oauth2/login?id=") {
		t.Fatalf("authorize: want the sign-in hand-over, got %d %q", a.status, a.location)
	}
	rid, _ := url.Parse(loginURL)
	callback := endpoint(e.issuer(), "authorize/callback") + "?id=" + url.QueryEscape(rid.Query().Get("id"))
	noCode(t, "pending request's hand-over in the victim's browser", victim.follow(loginURL), "")
	noCode(t, "pending request's callback in the victim's browser", victim.follow(callback), "")
	noCode(t, "pending request's callback before sign-in", attacker.follow(callback), "")

	// The attacker signs in to their own request, then sends the
	// victim the callback.
	page := attacker.follow(loginURL)
	if !attacker.isSignInPage(page) {
		t.Fatalf("want the sign-in page, got %d %q", page.status, page.location)
	}
	m := csrfField.FindStringSubmatch(page.body)
	a = attacker.post(e.url+"/t/"+slug+"/login/password", url.Values{"csrf": {m[1]}, "login": {mallory.Username},
		"password": {password}, "return": {page.url.Query().Get("return")}})
	for range 6 {
		if strings.Contains(a.location, "/oauth2/authorize/callback") || (a.status != http.StatusFound && a.status != http.StatusSeeOther) {
			break
		}
		a = attacker.get(a.location)
	}
	if !strings.HasPrefix(a.location, callback) {
		t.Fatalf("want the callback after sign-in, got %d %q", a.status, a.location)
	}
	noCode(t, "completed request's callback in the victim's browser", victim.follow(callback), "")
	noCode(t, "completed request's hand-over in the victim's browser", victim.follow(loginURL), "")
	if q := redirectQuery(t, attacker.follow(callback), redirect); q.Get("code") == "" {
		t.Fatal("the browser that started the request got no code")
	}
	noCode(t, "the callback again (a request gets one code)", attacker.follow(callback), "")
}

// testAccessFollowsUser proves tokens die with the user's access: after
// suspending or deactivating the user, removing the assignment, or
// suspending the user's organization, introspection says inactive and
// refresh fails; an unaffected user's tokens keep working.
func testAccessFollowsUser(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	org, err := e.srv.Tenants.CreateOrganization(e.ctx, e.sc(), tenant.NewOrganization{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	assign := func(u *user.User) *access.Assignment {
		as, err := e.srv.Access.Assign(e.ctx, e.sc(), c.app.ID, access.NewAssignment{
			Principal: access.Principal{Type: access.PrincipalUser, ID: string(u.ID)}, Roles: []string{"viewer"}})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	suspended := "suspended"
	cases := []struct {
		name   string
		org    tenant.OrgID
		revoke func(u *user.User, as *access.Assignment) error
	}{
		{"suspended", "", func(u *user.User, _ *access.Assignment) error {
			_, err := e.srv.Users.Transition(e.ctx, e.sc(), u.ID, user.OpSuspend, 0)
			return err
		}},
		{"deactivated", "", func(u *user.User, _ *access.Assignment) error {
			_, err := e.srv.Users.Transition(e.ctx, e.sc(), u.ID, user.OpDeactivate, 0)
			return err
		}},
		{"unassigned", "", func(_ *user.User, as *access.Assignment) error {
			return e.srv.Access.Unassign(e.ctx, e.sc(), c.app.ID, as.ID)
		}},
		{"orgsuspended", org.ID, func(*user.User, *access.Assignment) error {
			_, err := e.srv.Tenants.UpdateOrganization(e.ctx, e.sc(), org.ID, tenant.OrganizationPatch{Status: &suspended}, 0)
			return err
		}},
	}
	r := e.rp(t, c)
	control := e.person(t, "control", "")
	assign(control)
	controlTok := r.login(e.browser(t), control.Username)
	for _, tc := range cases {
		u := e.person(t, tc.name, tc.org)
		as := assign(u)
		tok := r.login(e.browser(t), u.Username)
		tok2 := r.login(e.browser(t), u.Username)
		if err := tc.revoke(u, as); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if m := e.introspect(t, c, tok.AccessToken); active(m) {
			t.Fatalf("%s: access token still active: %v", tc.name, m)
		}
		if _, err := r.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("%s: refresh: want invalid_grant, got %v", tc.name, err)
		}
		// Refresh first this time: the grant check must not depend on
		// introspection having run.
		if _, err := r.refresh(tok2.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("%s: refresh (no introspection before): want invalid_grant, got %v", tc.name, err)
		}
	}
	if !active(e.introspect(t, c, controlTok.AccessToken)) {
		t.Fatal("an unaffected user's access token died")
	}
	if _, err := r.refresh(controlTok.RefreshToken); err != nil {
		t.Fatalf("an unaffected user's refresh: %v", err)
	}
}

// testAccessCheckedAtExchange proves access is checked again when the code
// is redeemed: a user unassigned after signing in gets no tokens, and the
// token endpoint says so with an RFC 6749 §5.2 code (invalid_grant;
// access_denied belongs to the authorization endpoint, §4.1.2.1).
func testAccessCheckedAtExchange(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	as, err := e.srv.Access.Assign(e.ctx, e.sc(), c.app.ID, access.NewAssignment{
		Principal: access.Principal{Type: access.PrincipalUser, ID: string(alice.ID)}, Roles: []string{"viewer"}})
	if err != nil {
		t.Fatal(err)
	}
	r := e.rp(t, c)
	code, verifier := r.code(e.browser(t), alice.Username)
	if err := e.srv.Access.Unassign(e.ctx, e.sc(), c.app.ID, as.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.exchange(code, verifier); oauthError(err) != "invalid_grant" {
		t.Fatalf("an unassigned user's code: want invalid_grant, got %v", err)
	}
}

// testApplicationSwitchedOff proves switching an application off stops
// it at once: its users' and its own access tokens are inactive, refresh
// and client credentials fail, authorization issues no code.
func testApplicationSwitchedOff(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	m := e.app(t, "Batch", "", machine(access.AuthClientSecretBasic))
	rs := e.app(t, "Resource server", "https://rs.example.net/cb", nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	tok := r.login(e.browser(t), alice.Username)
	ccForm := url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}
	status, cc := e.token(t, ccForm, m.cfg.ClientID, m.secret)
	if status != http.StatusOK {
		t.Fatalf("client credentials: %d %v", status, cc)
	}
	inactive := "inactive"
	for _, a := range []*client{c, m} {
		if _, err := e.srv.Access.UpdateApplication(e.ctx, e.sc(), a.app.ID, access.AppPatch{Status: &inactive}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if active(e.introspect(t, rs, tok.AccessToken)) || active(e.introspect(t, rs, cc["access_token"].(string))) {
		t.Fatal("an access token of a switched-off application is active")
	}
	if _, err := r.refresh(tok.RefreshToken); oauthError(err) == "" {
		t.Fatal("a switched-off application refreshed")
	}
	if status, got := e.token(t, ccForm, m.cfg.ClientID, m.secret); status == http.StatusOK {
		t.Fatalf("a switched-off application got client credentials: %v", got)
	}
	noCode(t, "authorize for a switched-off application", e.browser(t).authorize(r.authURL(oauth2.GenerateVerifier()), alice.Username), "")
}

// testUnassignedUserAccessDenied proves a user without access to the
// application gets error=access_denied at the redirect URI, and no code.
func testUnassignedUserAccessDenied(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	r := e.rp(t, c)
	a := e.browser(t).authorize(r.authURL(oauth2.GenerateVerifier()), alice.Username)
	if q := redirectQuery(t, a, redirect); q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("state") != "st4te" {
		t.Fatalf("want error=access_denied with state and no code, got %q", a.location)
	}
}

// testPromptNoneWithoutSession proves prompt=none without a Tessera
// session answers error=login_required at the redirect URI (OIDC Core
// §3.1.2.6) instead of showing the sign-in page.
func testPromptNoneWithoutSession(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	b := e.browser(t)
	u := r.authURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "none"))
	a := b.follow(u)
	if q := redirectQuery(t, a, redirect); q.Get("error") != "login_required" || q.Get("code") != "" || q.Get("state") != "st4te" {
		t.Fatalf("want error=login_required with state, got %q", a.location)
	}
	r.code(b, alice.Username) // sign in
	if q := redirectQuery(t, b.follow(u), redirect); q.Get("code") == "" {
		t.Fatalf("prompt=none with a session: want a code, got %v", q)
	}
}
