package oidcop_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// Attacks a security review of the provider found, each refused now; the
// legitimate variant of each works elsewhere in the suites.
func TestReviewFindings(t *testing.T) {
	eachOP(t, func(t *testing.T, e *op) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T, *op)
		}{
			{"AssertionReplayAtIntrospection", testAssertionReplayAtIntrospection}, // before the clock moves
			{"ConsentPostCannotSkipMFA", testConsentPostCannotSkipMFA},
			{"ConsentPostCannotSkipPromptLogin", testConsentPostCannotSkipPromptLogin},
			{"UnauthenticatedReplayRevokesNothing", testUnauthenticatedReplayRevokesNothing},
			{"SecretInQueryRefused", testSecretInQueryRefused},
			{"BigAccessToken", testBigAccessToken},
			{"LogoutWithStateOnly", testLogoutWithStateOnly},
			{"IDTokenHintForAnotherUser", testIDTokenHintForAnotherUser},
			{"CORSWithoutCredentials", testCORSWithoutCredentials},
		} {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
		}
	})
}

// consentPost posts the consent form for request id with the CSRF token of
// any page of this browser, as an attacker with only the password would.
func (b *browser) consentPost(id, decision string) *answer {
	b.t.Helper()
	lp := b.get(b.e.url + "/t/" + slug + "/login")
	m := csrfField.FindStringSubmatch(lp.body)
	if m == nil {
		b.t.Fatalf("no csrf field: %d", lp.status)
	}
	return b.after(b.post(b.e.url+"/t/"+slug+"/oauth2/consent", url.Values{"csrf": {m[1]}, "id": {id}, "decision": {decision}}))
}

// requestID is the authorization request id the sign-in page a returns to.
func requestID(t *testing.T, a *answer) string {
	t.Helper()
	u, err := url.Parse(a.url.Query().Get("return"))
	if err != nil || u.Query().Get("id") == "" {
		t.Fatalf("no request id in the sign-in page's return: %s", a.url)
	}
	return u.Query().Get("id")
}

// noCodeAnswer fails unless a sends no code to the client.
func noCodeAnswer(t *testing.T, a *answer, what string) {
	t.Helper()
	if strings.Contains(a.location, "code=") {
		t.Fatalf("%s: a code was issued: %s", what, a.location)
	}
}

// testConsentPostCannotSkipMFA: the consent form, posted straight after a
// password-only sign-in, does not get round the application's MFA policy.
func testConsentPostCannotSkipMFA(t *testing.T, e *op) {
	c := e.app(t, "Needs MFA", redirect, func(c *access.OIDCClient) { c.RequireConsent = true })
	if err := e.srv.Sessions.SetAppPolicy(e.ctx, tenant.Scope{Tenant: e.tenant}, c.app.ID, session.AppPolicy{MFA: session.MFARequired}); err != nil {
		t.Fatal(err)
	}
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	b := e.browser(t)
	first := b.follow(e.rp(t, c).authURL(oauth2.GenerateVerifier()))
	id := requestID(t, first)
	if page := b.signIn(first, alice.Username); page.status != http.StatusForbidden {
		t.Fatalf("want the MFA refusal, got %d %q", page.status, page.location)
	}
	noCodeAnswer(t, b.consentPost(id, "allow"), "consent posted without the second factor")
}

// testConsentPostCannotSkipPromptLogin: nor does it get round prompt=login
// with an old session.
func testConsentPostCannotSkipPromptLogin(t *testing.T, e *op) {
	c := e.app(t, "Prompt", redirect, func(c *access.OIDCClient) { c.RequireConsent = true })
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	b := e.browser(t)
	r.login(b, alice.Username)
	e.clk.Advance(10 * time.Minute)
	first := b.follow(r.authURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "login")))
	if !b.isSignInPage(first) {
		t.Fatalf("prompt=login: want the sign-in page, got %d %q", first.status, first.location)
	}
	noCodeAnswer(t, b.consentPost(requestID(t, first), "allow"), "consent posted with a session from before prompt=login")
}

// testUnauthenticatedReplayRevokesNothing: a used code presented without
// any client identity is refused before it is looked up, so whoever finds
// a used code cannot sign the user out of the application with it.
func testUnauthenticatedReplayRevokesNothing(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	r := e.rp(t, c)
	code, verifier := r.code(e.browser(t), alice.Username)
	tok, err := r.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	status, m := e.token(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}, "", "")
	if status != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Fatalf("a code without a client: want 401 invalid_client, got %d %v", status, m)
	}
	if !active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatal("an unauthenticated replay revoked the grant")
	}
}

// testSecretInQueryRefused: credentials in the token endpoint's URL are
// refused (RFC 6749 §2.3.1), whatever the body says.
func testSecretInQueryRefused(t *testing.T, e *op) {
	c := e.app(t, "Batch", "", machine(access.AuthClientSecretBasic))
	u := endpoint(e.issuer(), "token") + "?" + url.Values{"client_id": {c.cfg.ClientID}, "client_secret": {c.secret}}.Encode()
	res, err := http.PostForm(u, url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("secret in the query: want 400, got %d", res.StatusCode)
	}
}

// testAssertionReplayAtIntrospection: a client assertion is used once at
// the introspection endpoint too.
func testAssertionReplayAtIntrospection(t *testing.T, e *op) {
	key := newKeyPair(t, "k1")
	c := e.app(t, "Resource server", "", func(c *access.OIDCClient) {
		machine(access.AuthPrivateKeyJWT)(c)
		c.JWKS = jwks(t, key)
	})
	a := sign(t, jose.RS256, key.priv, key.kid, assertionClaims(c.cfg.ClientID, e.issuer()))
	form := assertionForm(a)
	form.Set("token", "tat_unknown")
	if status, m := call(t, endpoint(e.issuer(), "introspect"), form, "", ""); status != http.StatusOK {
		t.Fatalf("first use: %d %v", status, m)
	}
	if status, m := call(t, endpoint(e.issuer(), "introspect"), form, "", ""); status != http.StatusUnauthorized {
		t.Fatalf("replayed assertion at introspection: want 401, got %d %v", status, m)
	}
}

// testBigAccessToken: a JWT access token of a user in 260 groups (over 8
// KiB) works at userinfo and introspection.
func testBigAccessToken(t *testing.T, e *op) {
	c := e.app(t, "Groups", redirect, nil)
	alice := e.person(t, "alice", "")
	e.assign(t, c.app.ID, alice, "viewer")
	for i := range 260 {
		g, err := e.srv.Groups.Create(e.ctx, e.sc(), group.NewGroup{Name: fmt.Sprintf("%s-platform-team-%03d", testTag(t), i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Groups.AddMember(e.ctx, e.sc(), g.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
	}
	tok := e.rp(t, c, "openid", "groups", "profile").login(e.browser(t), alice.Username)
	if len(tok.AccessToken) <= 8<<10 {
		t.Fatalf("the token is only %d bytes", len(tok.AccessToken))
	}
	if status, _, body := userinfoStatus(t, e.issuer(), tok.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo: %d %.200s", status, body)
	}
	if !active(e.introspect(t, c, tok.AccessToken)) {
		t.Fatal("introspection: inactive")
	}
}

// testLogoutWithStateOnly: a logout with a state and no redirect URI ends
// on Tessera's sign-in page, not on a broken "?state=" URL.
func testLogoutWithStateOnly(t *testing.T, e *op) {
	a := e.browser(t).get(e.issuer() + "/oauth2/end_session?state=abc")
	if a.status != http.StatusFound && a.status != http.StatusSeeOther || !strings.Contains(a.location, "/t/"+slug+"/login") {
		t.Fatalf("want a redirect to the sign-in page, got %d %q", a.status, a.location)
	}
}

// testIDTokenHintForAnotherUser: a request whose id_token_hint names Bob is
// not answered for Alice, who is signed in at this browser: prompt=none
// gets login_required, otherwise the sign-in page.
func testIDTokenHintForAnotherUser(t *testing.T, e *op) {
	c := e.app(t, "Portal", redirect, nil)
	alice, bob := e.person(t, "alice", ""), e.person(t, "bob", "")
	e.assign(t, c.app.ID, alice, "viewer")
	e.assign(t, c.app.ID, bob, "viewer")
	r := e.rp(t, c)
	bobs, _ := r.login(e.browser(t), bob.Username).Extra("id_token").(string)
	b := e.browser(t)
	r.login(b, alice.Username)
	e.clk.Advance(time.Second) // Alice's session is from before the requests
	hint := oauth2.SetAuthURLParam("id_token_hint", bobs)
	a := b.follow(r.authURL(oauth2.GenerateVerifier(), hint, oauth2.SetAuthURLParam("prompt", "none")))
	if q := redirectQuery(t, a, redirect); q.Get("error") != "login_required" || q.Get("code") != "" || q.Get("iss") != e.issuer() {
		t.Fatalf("prompt=none with another user's hint: %v", q)
	}
	if a := b.follow(r.authURL(oauth2.GenerateVerifier(), hint)); !b.isSignInPage(a) {
		t.Fatalf("another user's hint: want the sign-in page, got %d %q", a.status, a.location)
	}
}

// testCORSWithoutCredentials: any origin may call the provider's endpoints
// from a browser, but never with the browser's cookies.
func testCORSWithoutCredentials(t *testing.T, e *op) {
	req, _ := http.NewRequest(http.MethodOptions, endpoint(e.issuer(), "token"), nil)
	req.Header.Set("Origin", "https://spa.example.net")
	req.Header.Set("Access-Control-Request-Method", http.MethodPost)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") == "" || res.Header.Get("Access-Control-Allow-Credentials") == "true" {
		t.Fatalf("preflight: allow-origin %q, allow-credentials %q", res.Header.Get("Access-Control-Allow-Origin"),
			res.Header.Get("Access-Control-Allow-Credentials"))
	}
}
