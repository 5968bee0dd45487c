package grant

import (
	"context"
	"errors"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// RequestID identifies an authorization request.
type RequestID string

// How long a browser has to sign in, and a client to redeem its code
// (RFC 6749 §4.1.2: "a maximum authorization code lifetime of 10 minutes
// is RECOMMENDED"; a minute is plenty for a back-channel call).
const (
	RequestLifetime = 10 * time.Minute
	CodeLifetime    = time.Minute
)

// Request is an authorization request (RFC 6749 §4.1.1, OIDC Core
// §3.1.2.1), from the authorize endpoint to the redemption of its code.
type Request struct {
	Tenant tenant.ID
	ID     RequestID
	App    access.AppID
	// Browser is the digest of the cookie of the browser that started the
	// request: only that browser may finish it, so an attacker cannot have
	// a victim sign in to the attacker's request.
	Browser string
	Params  Params
	// CodeUsed is set once the code was redeemed; the record stays until
	// it expires so that a second redemption is recognised.
	CodeUsed    time.Time
	CodeExpires time.Time
	Created     time.Time
	Expires     time.Time
}

// Params are the request's parameters and, once the user has signed in
// and may use the application, who they are.
type Params struct {
	ClientID      string   `json:"client_id"`
	RedirectURI   string   `json:"redirect_uri"`
	ResponseType  string   `json:"response_type"`
	ResponseMode  string   `json:"response_mode,omitempty"`
	Scopes        []string `json:"scopes"`
	State         string   `json:"state,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	CodeChallenge string   `json:"code_challenge,omitempty"` // S256 only
	Prompt        []string `json:"prompt,omitempty"`
	MaxAge        *uint    `json:"max_age,omitempty"`
	// Hint is the user an id_token_hint named (OIDC Core §3.1.2.1): the
	// request is for that user only.
	Hint user.ID `json:"hint,omitempty"`

	User     user.ID    `json:"user,omitempty"`
	Session  session.ID `json:"session,omitempty"`
	AuthTime time.Time  `json:"auth_time,omitzero"`
	AMR      []string   `json:"amr,omitempty"`
}

// Done reports whether the user has signed in and may be given a code.
func (r *Request) Done() bool { return r.Params.User != "" }

// NewRequest records an authorization request that browser (a digest) made.
func (s *Service) NewRequest(ctx context.Context, t tenant.ID, app access.AppID, browser string, p Params) (*Request, error) {
	now := s.Now()
	r := &Request{Tenant: t, ID: RequestID(id.New("oar", now)), App: app, Browser: browser, Params: p,
		Created: now, Expires: now.Add(RequestLifetime)}
	if err := s.Store.CreateOAuthRequest(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Request returns a live request.
func (s *Service) Request(ctx context.Context, t tenant.ID, rid RequestID) (*Request, error) {
	r, err := s.Store.OAuthRequest(ctx, t, rid)
	if err != nil {
		return nil, err
	}
	if !s.Now().Before(r.Expires) {
		return nil, ErrRequestNotFound
	}
	return r, nil
}

// Complete records that the user of ses signed in for request rid; the
// caller has checked that they may use the application.
func (s *Service) Complete(ctx context.Context, t tenant.ID, rid RequestID, ses *session.Session) (*Request, error) {
	now := s.Now()
	return s.Store.UpdateOAuthRequest(ctx, t, rid, func(r *Request) error {
		// Once its code is issued a request is settled: completing it again
		// (another sign-in in the same browser) would change whom the code
		// stands for.
		if !now.Before(r.Expires) || !r.CodeExpires.IsZero() {
			return ErrRequestNotFound
		}
		r.Params.User, r.Params.Session, r.Params.AuthTime, r.Params.AMR = ses.User, ses.ID, ses.Created, ses.AMR
		return nil
	})
}

// SaveCode records the code issued for a completed request; a request
// gets one code, ever.
func (s *Service) SaveCode(ctx context.Context, t tenant.ID, rid RequestID, code string) error {
	return s.Store.SetOAuthCode(ctx, t, rid, Hash(code), s.Now().Add(CodeLifetime))
}

// CodeRequest returns the request of a live, unused code without using it
// up: the token endpoint checks the client and PKCE after this, and Issue
// uses the code up with the grant it creates, so a request that fails
// those checks leaves the code to its rightful client. A code presented
// after its use is a replay (see replayed); the adapter asks only for
// requests that name a client, so a stranger holding a used code cannot
// revoke the grant.
func (s *Service) CodeRequest(ctx context.Context, t tenant.ID, code string) (*Request, error) {
	r, err := s.Store.OAuthRequestByCode(ctx, t, Hash(code))
	switch {
	case errors.Is(err, ErrRequestNotFound):
		return nil, ErrCodeInvalid
	case err != nil:
		return nil, err
	case !r.CodeUsed.IsZero():
		return nil, s.replayed(ctx, r)
	case !s.Now().Before(r.CodeExpires):
		return nil, ErrCodeInvalid
	}
	return r, nil
}

// replayed handles a code presented again after its use: every grant its
// first redemption created is revoked (RFC 6749 §4.1.2, RFC 9700 §4.5.1),
// and the attempt is audited. It answers ErrCodeInvalid.
func (s *Service) replayed(ctx context.Context, prev *Request) error {
	t := prev.Tenant
	if _, err := s.revoke(ctx, t, GrantMatch{Request: prev.ID}, ReasonCodeReplay); err != nil {
		return err
	}
	e := audit.New(ctx, string(t), s.Now(), ActionRevoke, audit.TargetApplication, string(prev.App),
		map[string]any{"client_id": prev.Params.ClientID, "request_id": prev.ID, "reason": ReasonCodeReplay})
	e.Outcome = audit.Failure
	if err := s.Store.AppendEvent(ctx, e); err != nil {
		return err
	}
	return ErrCodeInvalid
}

// Forget drops what a redeemed request no longer needs (state, nonce),
// keeping the record that recognises a replayed code.
func (s *Service) Forget(ctx context.Context, t tenant.ID, rid RequestID) error {
	_, err := s.Store.UpdateOAuthRequest(ctx, t, rid, func(r *Request) error {
		r.Params.State, r.Params.Nonce = "", ""
		return nil
	})
	if errors.Is(err, ErrRequestNotFound) {
		return nil
	}
	return err
}
