package oidcop

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/grant"
)

// authenticateClient runs before the library at the token, introspection
// and revocation endpoints. It holds a client to the one authentication
// method it is registered with (the library would take a secret by either
// method from a client set up for one), refuses a request that uses two
// (RFC 6749 §2.3), verifies a private_key_jwt assertion once (its jti is
// remembered: the library's own check would take it again) and, for client
// credentials, hands it to storage, which the library leaves without the
// assertion. At the token endpoint a code or refresh token comes with a
// client identity, or the library would look it up (and a used code revoke
// its grant) for anyone.
func (h *Handler) authenticateClient(ctx context.Context, r *http.Request, info *reqInfo, tokenEndpoint bool) error {
	if err := r.ParseForm(); err != nil {
		return errors.New("malformed request body")
	}
	basicID, _, basic := r.BasicAuth()
	assertion := r.PostForm.Get("client_assertion")
	post := r.PostForm.Has("client_secret")
	used, clientID := access.AuthNone, r.PostForm.Get("client_id")
	n := 0
	if basic {
		n++
		used = access.AuthClientSecretBasic
		if id, err := url.QueryUnescape(basicID); err == nil {
			clientID = id
		}
	}
	if post {
		n++
		used = access.AuthClientSecretPost
	}
	if assertion != "" {
		n++
		used = access.AuthPrivateKeyJWT
		if r.PostForm.Get("client_assertion_type") != oidc.ClientAssertionTypeJWTAssertion {
			return errors.New("client_assertion_type must be " + oidc.ClientAssertionTypeJWTAssertion)
		}
	}
	if n > 1 {
		return errors.New("use exactly one client authentication method")
	}
	if assertion != "" {
		req, err := op.VerifyJWTAssertion(ctx, assertion, op.NewJWTProfileVerifier(&storage{h: h}, info.issuer,
			grant.MaxAssertionLifetime, 5*time.Second))
		if err != nil {
			return errors.New("invalid client assertion")
		}
		if err := h.Grants.UseAssertion(ctx, info.tenant.ID, req.Issuer, req.JWTID, req.ExpiresAt.AsTime()); err != nil {
			return errors.New("invalid client assertion: used before, without a jti, or expiring too far ahead")
		}
		if clientID != "" && clientID != req.Issuer {
			return errors.New("client_id does not match the client assertion")
		}
		clientID = req.Issuer
		info.assertedClient = req.Issuer
	}
	if clientID == "" {
		if g := r.PostForm.Get("grant_type"); tokenEndpoint && (g == string(oidc.GrantTypeCode) || g == string(oidc.GrantTypeRefreshToken)) {
			return errors.New("client authentication required")
		}
		return nil // the library answers the missing client
	}
	c, err := (&storage{h: h}).lookupClient(ctx, clientID)
	if err != nil {
		return nil // unknown to us: the library refuses it the same way as any other
	}
	if c.cfg.TokenEndpointAuthMethod != used {
		return errors.New("client authentication failed") // the same words as a wrong secret: nothing about the client
	}
	return nil
}
