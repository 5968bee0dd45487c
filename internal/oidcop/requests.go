package oidcop

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tessera-iam/tessera/internal/grant"
)

// authRequest is an authorization request as the provider sees it, with
// the code being redeemed at the token endpoint.
type authRequest struct {
	r    *grant.Request
	code string
}

var _ op.AuthRequest = authRequest{}

func (a authRequest) GetID() string          { return string(a.r.ID) }
func (a authRequest) GetACR() string         { return "" }
func (a authRequest) GetAMR() []string       { return a.r.Params.AMR }
func (a authRequest) GetAudience() []string  { return []string{a.r.Params.ClientID} }
func (a authRequest) GetAuthTime() time.Time { return a.r.Params.AuthTime }
func (a authRequest) GetClientID() string    { return a.r.Params.ClientID }
func (a authRequest) GetNonce() string       { return a.r.Params.Nonce }
func (a authRequest) GetRedirectURI() string { return a.r.Params.RedirectURI }
func (a authRequest) GetScopes() []string    { return a.r.Params.Scopes }
func (a authRequest) GetState() string       { return a.r.Params.State }
func (a authRequest) GetSubject() string     { return string(a.r.Params.User) }
func (a authRequest) Done() bool             { return a.r.Done() }

func (a authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.r.Params.ResponseType)
}

func (a authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.r.Params.ResponseMode)
}

func (a authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.r.Params.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.r.Params.CodeChallenge, Method: oidc.CodeChallengeMethodS256}
}

// refreshRequest is a checked refresh token's grant; scopes may narrow
// (RFC 6749 §6).
type refreshRequest struct {
	g      *grant.Grant
	scopes []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string            { return r.g.AMR }
func (r *refreshRequest) GetAudience() []string       { return []string{r.g.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.g.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.g.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return string(r.g.User) }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// clientRequest is a client-credentials grant: the client acts for itself.
type clientRequest struct {
	c      *client
	scopes []string
}

var _ op.TokenRequest = (*clientRequest)(nil)

func (r *clientRequest) GetSubject() string    { return r.c.cfg.ClientID }
func (r *clientRequest) GetAudience() []string { return []string{r.c.cfg.ClientID} }
func (r *clientRequest) GetScopes() []string   { return r.scopes }
