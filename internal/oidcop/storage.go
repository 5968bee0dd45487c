package oidcop

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/user"
)

// storage is the provider's state as zitadel/oidc's op asks for it. Every
// call finds its tenant in the request context (serveProvider put it
// there), so one provider serves every tenant without mixing them.
type storage struct{ h *Handler }

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// errNotFound is a client, request or token that is unknown, off or dead:
// a plain error, which the library's client and token checks answer as
// invalid (see op.Storage); it marks, for this package, what is not a fault.
type errNotFound struct{ error }

// lookupClient finds a client of the request's tenant and remembers the
// algorithm its tokens are signed with.
func (s *storage) lookupClient(ctx context.Context, clientID string) (*client, error) {
	info := infoFrom(ctx)
	if info.tenant == nil {
		return nil, errors.New("oidcop: no tenant in context")
	}
	if c, ok := info.clients[clientID]; ok {
		info.alg = c.cfg.IDTokenSignedResponseAlg
		return c, nil
	}
	app, cfg, err := s.h.Access.OIDCClientByID(ctx, info.tenant.ID, clientID)
	if errors.Is(err, access.ErrUnknownOIDCClient) || errors.Is(err, access.ErrOIDCNotConfigured) {
		return nil, errNotFound{err}
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return clientOf(info, app, cfg)
}

func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	return s.lookupClient(ctx, clientID)
}

// AuthorizeClientIDSecret checks a client secret (client_secret_basic or
// _post; serveProvider has checked the method is the client's own).
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, secret string) error {
	_, err := s.clientBySecret(ctx, clientID, secret)
	return err
}

func (s *storage) clientBySecret(ctx context.Context, clientID, secret string) (*client, error) {
	info := infoFrom(ctx)
	app, cfg, err := s.h.Access.CheckOIDCClientSecret(ctx, info.tenant.ID, clientID, secret)
	if errors.Is(err, access.ErrOIDCClientAuth) {
		return nil, errNotFound{err}
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return clientOf(info, app, cfg)
}

// clientOf is the request's client, unless its application is off; the
// tokens of this request are signed as the client asks. The request
// remembers it: the library asks for the client several times.
func clientOf(info *reqInfo, app *access.Application, cfg *access.OIDCClient) (*client, error) {
	if app.Status != access.AppActive {
		return nil, errNotFound{errors.New("application is switched off")}
	}
	info.alg = cfg.IDTokenSignedResponseAlg
	c := &client{app: app, cfg: cfg, base: "/t/" + info.tenant.Slug}
	if info.clients == nil {
		info.clients = map[string]*client{}
	}
	info.clients[cfg.ClientID] = c
	return c, nil
}

// CreateAuthRequest records an authorization request after the checks the
// library leaves to us: PKCE (S256 only, required where the client says
// or is public), the redirect URI by Tessera's own rules, and the scopes
// the client may have.
func (s *storage) CreateAuthRequest(ctx context.Context, ar *oidc.AuthRequest, hint string) (op.AuthRequest, error) {
	info := infoFrom(ctx)
	c, err := s.lookupClient(ctx, ar.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown client")
	}
	switch {
	case ar.CodeChallenge == "" && c.cfg.PKCERequired():
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge is required (PKCE, method S256)")
	case ar.CodeChallenge != "" && ar.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case !c.cfg.RedirectURIAllowed(ar.RedirectURI):
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not registered for this client")
	case !c.cfg.HasGrant(access.GrantAuthorizationCode):
		return nil, oidc.ErrUnauthorizedClient().WithDescription("the client may not use the authorization code grant")
	case info.browser == "":
		return nil, oidc.ErrServerError().WithDescription("no browser binding")
	}
	scopes := c.allowedScopes(ar.Scopes)
	if len(scopes) == 0 {
		return nil, oidc.ErrInvalidScope().WithDescription("none of the requested scopes is allowed for this client")
	}
	p := grant.Params{ClientID: ar.ClientID, RedirectURI: ar.RedirectURI, ResponseType: string(ar.ResponseType),
		ResponseMode: string(ar.ResponseMode), Scopes: scopes, State: ar.State, Nonce: ar.Nonce, CodeChallenge: ar.CodeChallenge,
		Prompt: ar.Prompt, MaxAge: ar.MaxAge, Hint: user.ID(hint)}
	r, err := s.h.Grants.NewRequest(ctx, info.tenant.ID, c.app.ID, info.browser, p)
	if err != nil {
		return nil, err
	}
	return authRequest{r: r}, nil
}

// AuthRequestByID serves the callback that issues the code: only to the
// browser that made the request.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	info := infoFrom(ctx)
	r, err := s.h.Grants.Request(ctx, info.tenant.ID, grant.RequestID(id))
	if err != nil {
		return nil, errNotFound{err}
	}
	if info.browser == "" || r.Browser != info.browser {
		return nil, errNotFound{grant.ErrRequestNotFound}
	}
	return authRequest{r: r}, nil
}

// AuthRequestByCode finds a code's request; the library checks the
// client and PKCE next, and issue uses the code up (see
// grant.Service.CodeRequest).
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.h.Grants.CodeRequest(ctx, infoFrom(ctx).tenant.ID, code)
	if errors.Is(err, grant.ErrCodeInvalid) {
		return nil, err // the library answers invalid_grant
	}
	if err != nil {
		return nil, s.h.fault(ctx, err)
	}
	return authRequest{r: r, code: code}, nil
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.h.Grants.SaveCode(ctx, infoFrom(ctx).tenant.ID, grant.RequestID(id), code)
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.h.Grants.Forget(ctx, infoFrom(ctx).tenant.ID, grant.RequestID(id))
}

// CreateAccessToken issues an access token without a refresh token.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	token, _, exp, err := s.issue(ctx, req, "")
	return token, exp, err
}

// CreateAccessAndRefreshTokens issues both, or rotates a refresh token.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	return s.issue(ctx, req, current)
}

// issue issues the tokens for any kind of request and mints the access
// token; current is the refresh token being rotated, if any.
func (s *storage) issue(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	info := infoFrom(ctx)
	t := info.tenant.ID
	var c *client
	var out *grant.Issued
	var err error
	switch r := req.(type) {
	case authRequest:
		if c, err = s.lookupClient(ctx, r.r.Params.ClientID); err != nil {
			return "", "", time.Time{}, err
		}
		var reason string
		if reason, err = s.h.Grants.Allowed(ctx, t, r.r.Params.User, c.app.ID); err != nil {
			return "", "", time.Time{}, s.h.fault(ctx, err)
		}
		if reason != "" {
			// RFC 6749 §5.2: the grant is no longer good for this user.
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the user may not use this application")
		}
		p := r.r.Params
		out, err = s.h.Grants.Issue(ctx, grant.Issue{Tenant: t, App: c.app.ID, ClientID: c.cfg.ClientID,
			GrantType: access.GrantAuthorizationCode, User: p.User, Session: p.Session, Request: r.r.ID, Issuer: info.issuer, Code: r.code,
			Scopes:   p.Scopes,
			AuthTime: p.AuthTime, AMR: p.AMR, Opaque: c.cfg.AccessTokenFormat == access.TokenFormatOpaque,
			AccessLifetime: seconds(c.cfg.AccessTokenLifetimeSeconds), Refresh: slices.Contains(p.Scopes, access.ScopeOfflineAccess) &&
				c.cfg.HasGrant(access.GrantRefreshToken), RefreshLifetime: seconds(c.cfg.RefreshTokenLifetimeSeconds)})
	case *refreshRequest:
		if c, err = s.lookupClient(ctx, r.g.ClientID); err != nil {
			return "", "", time.Time{}, err
		}
		out, err = s.h.Grants.Rotate(ctx, r.g, current, grant.Issue{Scopes: r.scopes,
			Opaque: c.cfg.AccessTokenFormat == access.TokenFormatOpaque, AccessLifetime: seconds(c.cfg.AccessTokenLifetimeSeconds)})
		if errors.Is(err, grant.ErrTokenInvalid) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
		}
	case *clientRequest:
		c = r.c
		out, err = s.h.Grants.Issue(ctx, grant.Issue{Tenant: t, App: c.app.ID, ClientID: c.cfg.ClientID,
			GrantType: access.GrantClientCredentials, Scopes: r.scopes, Opaque: c.cfg.AccessTokenFormat == access.TokenFormatOpaque,
			AccessLifetime: seconds(c.cfg.AccessTokenLifetimeSeconds)})
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	switch {
	case errors.Is(err, grant.ErrCodeInvalid):
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("invalid code")
	case errors.Is(err, grant.ErrSessionEnded):
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the sign-in has ended")
	case err != nil:
		return "", "", time.Time{}, s.h.fault(ctx, err)
	}
	token, err := s.accessToken(ctx, c, req, out)
	if err != nil {
		return "", "", time.Time{}, s.h.fault(ctx, err)
	}
	return token, out.RefreshToken, out.AccessExpires, nil
}

// accessToken is the token the client receives: the opaque value, or a
// JWT carrying the grant's facts (RFC 9068 §2.2).
func (s *storage) accessToken(ctx context.Context, c *client, req op.TokenRequest, out *grant.Issued) (string, error) {
	if c.cfg.AccessTokenFormat == access.TokenFormatOpaque {
		return out.AccessID, nil
	}
	info := infoFrom(ctx)
	now := s.h.Now()
	claims := accessClaims{Issuer: info.issuer, Subject: req.GetSubject(), Audience: []string{c.cfg.ClientID},
		Expiry: out.AccessExpires.Unix(), IssuedAt: now.Unix(), ID: out.AccessID, ClientID: c.cfg.ClientID,
		Scope: strings.Join(req.GetScopes(), " ")}
	if g := out.Grant; g != nil {
		claims.AuthTime, claims.AMR = g.AuthTime.Unix(), g.AMR
		usr, err := s.h.user(ctx, info, g.User)
		if err != nil {
			return "", err
		}
		cl, err := s.h.claims(ctx, info.tenant, c, usr, req.GetScopes())
		if err != nil {
			return "", err
		}
		claims.Roles, _ = cl["roles"].([]string)
		claims.Groups, _ = cl["groups"].([]string)
	}
	return s.h.mintJWT(ctx, info.tenant.ID, info.alg, accessJWTType, claims)
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	g, err := s.h.Grants.Refresh(ctx, infoFrom(ctx).tenant.ID, token)
	if errors.Is(err, grant.ErrTokenInvalid) {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
	}
	if err != nil {
		return nil, s.h.fault(ctx, err)
	}
	return &refreshRequest{g: g, scopes: g.Scopes}, nil
}

// TerminateSession ends the user's grants at the client; RP-initiated
// logout goes through TerminateSessionFromRequest instead.
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	c, err := s.lookupClient(ctx, clientID)
	if err != nil {
		return err
	}
	_, err = s.h.Grants.EndUserGrants(ctx, infoFrom(ctx).tenant.ID, user.ID(userID), c.app.ID)
	return err
}

// TerminateSessionFromRequest ends the browser's Tessera session (the
// logout is of the person, not just of one application) when the
// id_token_hint names its user. It returns where the browser goes next.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	info := infoFrom(ctx)
	// Only a post-logout URI the client registered, by Tessera's own rule
	// (the library's admits loopback variants); otherwise, and without one
	// (the library then hands over just "?state=..."), Tessera's sign-in
	// page.
	next := "/t/" + info.tenant.Slug + "/login"
	if req.RedirectURI != "" && !strings.HasPrefix(req.RedirectURI, "?") {
		if c, err := s.lookupClient(ctx, req.ClientID); err == nil && c.cfg.PostLogoutRedirectURIAllowed(strings.SplitN(req.RedirectURI, "?", 2)[0]) {
			next = req.RedirectURI
		}
	}
	if info.session == "" {
		return next, nil
	}
	ses, err := s.h.Sessions.Validate(ctx, info.tenant.ID, info.session)
	if errors.Is(err, session.ErrNoSession) {
		return next, nil
	}
	if err != nil {
		return "", err
	}
	if req.IDTokenHintClaims == nil || req.IDTokenHintClaims.Subject != string(ses.User) {
		// Without a hint naming this browser's user, the request could
		// come from any page (a logout CSRF): the session stays.
		return next, nil
	}
	// Signing out ends the grants of the session and notifies the
	// applications (see SessionsEnded).
	if err := s.h.Sessions.SignOut(ctx, ses); err != nil {
		return "", err
	}
	return next, nil
}

// RevokeToken revokes a refresh or access token the client presents
// (RFC 7009); unknown tokens are no error (§2.2).
func (s *storage) RevokeToken(ctx context.Context, token, _, clientID string) *oidc.Error {
	info := infoFrom(ctx)
	value := token
	if !strings.HasPrefix(token, grant.PrefixRefresh+"_") {
		id, err := s.h.accessID(ctx, info, token)
		if err != nil {
			return nil
		}
		value = id
	}
	if err := s.h.Grants.Revoke(ctx, info.tenant.ID, clientID, value); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// GetRefreshTokenInfo recognises refresh tokens by their prefix; revoking
// one ends its whole grant.
func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	if !strings.HasPrefix(token, grant.PrefixRefresh+"_") {
		return "", "", op.ErrInvalidRefreshToken
	}
	return "", token, nil
}

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	info := infoFrom(ctx)
	k, err := s.h.Keys.Active(ctx, info.tenant.ID, keys.PurposeOIDC, info.alg)
	if err != nil {
		return nil, err
	}
	return signingKey{s: k, alg: info.alg}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return joseAlgorithms(), nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	pubs, err := s.h.publishedKeys(ctx, infoFrom(ctx).tenant.ID, signingAlgorithms...)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(pubs))
	for i, p := range pubs {
		out[i] = p
	}
	return out, nil
}

// SetUserinfoFromScopes is deprecated in the library in favour of
// SetUserinfoFromRequest, which fills the ID token's claims.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	info := infoFrom(ctx)
	c, err := s.lookupClient(ctx, req.GetClientID())
	if err != nil {
		return err
	}
	if err := s.h.userinfo(ctx, info.tenant, c, user.ID(req.GetSubject()), scopes, ui); err != nil {
		return err
	}
	if ar, ok := req.(authRequest); ok && ar.r.Params.Session != "" {
		ui.AppendClaims("sid", string(ar.r.Params.Session))
	}
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint for a live access
// token whose user may still use the application.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, token, _, _ string) error {
	info := infoFrom(ctx)
	tok, g, c, err := s.liveAccess(ctx, token)
	if err != nil {
		return err
	}
	if g == nil || !slices.Contains(tok.Scopes, access.ScopeOpenID) {
		return errNotFound{errors.New("the token is not a user's OpenID Connect token")}
	}
	return s.h.userinfo(ctx, info.tenant, c, g.User, tok.Scopes, ui)
}

// liveAccess resolves a presented access token to its live record, once
// per request (userinfo checks it before the library asks again). A token
// that is no good is errNotFound; a fault stays a fault.
func (s *storage) liveAccess(ctx context.Context, token string) (*grant.Token, *grant.Grant, *client, error) {
	info := infoFrom(ctx)
	if a := info.access; a != nil && a.token == token {
		return a.tok, a.g, a.c, nil
	}
	id, err := s.h.accessID(ctx, info, token)
	if errors.Is(err, grant.ErrTokenInvalid) {
		return nil, nil, nil, errNotFound{err}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	tok, g, err := s.h.Grants.AccessToken(ctx, info.tenant.ID, id)
	if errors.Is(err, grant.ErrTokenInvalid) {
		return nil, nil, nil, errNotFound{err}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := s.lookupClient(ctx, tok.ClientID)
	if err != nil {
		return nil, nil, nil, err
	}
	info.access = &liveToken{token: token, tok: tok, g: g, c: c}
	return tok, g, c, nil
}

// liveToken is an access token this request resolved.
type liveToken struct {
	token string
	tok   *grant.Token
	g     *grant.Grant
	c     *client
}

// SetIntrospectionFromToken answers introspection (RFC 7662 §2.2) for any
// authenticated client of the tenant; an error makes the answer inactive.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, token, _, _ string) error {
	tok, g, c, err := s.liveAccess(ctx, token)
	if err != nil {
		return err
	}
	// Filled apart and copied only when whole: an inactive answer carries
	// nothing but "active": false (RFC 7662 §2.2).
	info := infoFrom(ctx)
	out := oidc.IntrospectionResponse{Scope: oidc.SpaceDelimitedArray(tok.Scopes), ClientID: tok.ClientID,
		TokenType: oidc.BearerToken, Expiration: oidc.FromTime(tok.Expires), IssuedAt: oidc.FromTime(tok.Created),
		Issuer: info.issuer, Audience: []string{tok.ClientID}, Subject: tok.ClientID}
	if g != nil {
		out.Subject = string(g.User)
		var ui oidc.UserInfo
		if err := s.h.userinfo(ctx, info.tenant, c, g.User, tok.Scopes, &ui); err != nil {
			return err
		}
		out.SetUserInfo(&ui)
	}
	*resp = out
	return nil
}

// GetPrivateClaimsFromScopes is superseded by GetPrivateClaimsFromRequest;
// access tokens are minted by storage anyway.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest: none; storage mints JWT access tokens with
// their claims itself (see accessToken).
func (s *storage) GetPrivateClaimsFromRequest(context.Context, op.TokenRequest, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID returns a private_key_jwt client's public key by
// key id: from its registered JWK Set, or fetched from its JWKS URI.
func (s *storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	c, err := s.lookupClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if c.cfg.TokenEndpointAuthMethod != access.AuthPrivateKeyJWT {
		return nil, errNotFound{errors.New("the client does not authenticate with private_key_jwt")}
	}
	set, err := s.h.clientKeys(ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if (keyID == "" && len(set.Keys) == 1) || k.KeyID == keyID {
			if !k.Valid() || !k.IsPublic() {
				break
			}
			return k, nil
		}
	}
	return nil, errNotFound{errors.New("no such key")}
}

// clientKeys reads a client's JWK Set: registered, or from its jwks_uri,
// which is fetched at most every jwksFor per URI (an assertion that only
// names the client must not make Tessera fetch again and again) and never
// through a redirect.
func (h *Handler) clientKeys(ctx context.Context, cfg *access.OIDCClient) (*jose.JSONWebKeySet, error) {
	text := cfg.JWKS
	if text == "" && cfg.JWKSURI != "" {
		now := h.Now()
		if e, ok := h.jwks.Load(cfg.JWKSURI); ok && now.Before(e.(fetchedKeys).until) {
			text = e.(fetchedKeys).text
		} else {
			b, err := h.fetchJWKS(ctx, cfg.JWKSURI)
			if err != nil {
				return nil, err
			}
			text = string(b)
			h.jwks.Store(cfg.JWKSURI, fetchedKeys{text: text, until: now.Add(jwksFor)})
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(text), &set); err != nil {
		return nil, err
	}
	return &set, nil
}

// jwksFor is how long a fetched JWK Set serves: a client rotating its keys
// publishes the new one this long before it signs with it.
const jwksFor = 5 * time.Minute

// fetchedKeys is a fetched JWK Set and until when it serves.
type fetchedKeys struct {
	text  string
	until time.Time
}

func (h *Handler) fetchJWKS(ctx context.Context, uri string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	client := *h.LogoutClient
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("jwks_uri answered " + resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, access.MaxJWKSBytes))
}

// ValidateJWTProfileScopes: the JWT bearer grant (RFC 7523 §2.1) is not
// offered; this refuses every scope.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

// ClientCredentials authenticates a machine client: by secret, or by the
// private_key_jwt assertion serveProvider verified.
func (s *storage) ClientCredentials(ctx context.Context, clientID, secret string) (op.Client, error) {
	info := infoFrom(ctx)
	var c *client
	var err error
	if info.assertedClient != "" {
		if clientID != "" && clientID != info.assertedClient {
			return nil, errNotFound{errors.New("client_id does not match the assertion")}
		}
		c, err = s.lookupClient(ctx, info.assertedClient)
	} else {
		c, err = s.clientBySecret(ctx, clientID, secret)
	}
	if err != nil {
		return nil, err
	}
	if c.cfg.Type != access.ClientConfidential {
		return nil, errNotFound{errors.New("a public client has no client credentials")}
	}
	info.client = c
	return c, nil
}

// ClientCredentialsTokenRequest keeps the scopes the client may have
// (RFC 6749 §4.4.2); none asked means all of its API scopes.
func (s *storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	c := infoFrom(ctx).client
	if c == nil || (clientID != "" && c.cfg.ClientID != clientID) {
		return nil, oidc.ErrInvalidClient()
	}
	var allowed []string
	for _, sc := range scopes {
		if !c.cfg.HasScope(sc) || slices.Contains(access.OIDCStandardScopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %s is not allowed for this client", sc)
		}
		allowed = append(allowed, sc)
	}
	if len(scopes) == 0 {
		for _, sc := range c.cfg.Scopes {
			if !slices.Contains(access.OIDCStandardScopes, sc) {
				allowed = append(allowed, sc)
			}
		}
	}
	return &clientRequest{c: c, scopes: allowed}, nil
}

// Health: the provider has no state of its own to check; the server's
// /readyz checks the database.
func (s *storage) Health(context.Context) error { return nil }
