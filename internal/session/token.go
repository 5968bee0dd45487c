package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Purposes of single-use tokens; a token serves only the purpose it was
// issued for.
const (
	PurposeMFA           = "mfa"            // a sign-in waiting for its second factor
	PurposePasswordReset = "password_reset" // link sent by mail
	PurposeVerifyEmail   = "verify_email"   // link sent by mail
	PurposeUnlock        = "unlock"         // link sent by mail
	PurposeTOTPEnrol     = "totp_enrol"     // a TOTP secret shown, waiting for its first code
	PurposeWebAuthn      = "webauthn"       // a WebAuthn ceremony's challenge
)

// Token is a single-use, expiring secret's record. Data never holds a
// secret in clear.
type Token struct {
	Tenant  tenant.ID
	Purpose string
	User    user.ID
	Data    map[string]string
	Created time.Time
	Expires time.Time
}

// ErrTokenInvalid covers an unknown, used, expired or foreign token alike.
var ErrTokenInvalid = fmt.Errorf("this link or step is invalid or has expired: %w", errkind.Invalid)

type tokenStore interface {
	CreateSignInToken(ctx context.Context, tok *Token, hash string) error
	// SignInToken reads a token without using it up.
	SignInToken(ctx context.Context, hash string) (*Token, error)
	// ConsumeSignInToken deletes a token and returns it; ErrTokenInvalid when it
	// was not there (so of two concurrent uses, one wins).
	ConsumeSignInToken(ctx context.Context, hash string) (*Token, error)
	// DeleteUserSignInTokens drops u's tokens of a purpose (a new reset link
	// voids the older ones).
	DeleteUserSignInTokens(ctx context.Context, t tenant.ID, u user.ID, purpose string) error
	DeleteExpiredSignInTokens(ctx context.Context, now time.Time) (int, error)
}

// IssueToken stores a new token and returns its secret.
func (s *Service) IssueToken(ctx context.Context, t tenant.ID, purpose string, u user.ID, data map[string]string, ttl time.Duration) (string, error) {
	secret, hash := newSecret()
	now := s.Now()
	if data == nil {
		data = map[string]string{}
	}
	tok := &Token{Tenant: t, Purpose: purpose, User: u, Data: data, Created: now, Expires: now.Add(ttl)}
	if err := s.Store.CreateSignInToken(ctx, tok, hash); err != nil {
		return "", fmt.Errorf("issue %s token: %w", purpose, err)
	}
	return secret, nil
}

// PeekToken returns a live token of purpose without using it up.
func (s *Service) PeekToken(ctx context.Context, t tenant.ID, purpose, secret string) (*Token, error) {
	return s.checkToken(t, purpose)(s.Store.SignInToken(ctx, digestOf(secret)))
}

// ConsumeToken uses up a live token of purpose. Inside a transaction, the
// use is undone if the transaction fails.
func (s *Service) ConsumeToken(ctx context.Context, t tenant.ID, purpose, secret string) (*Token, error) {
	return s.checkToken(t, purpose)(s.Store.ConsumeSignInToken(ctx, digestOf(secret)))
}

func (s *Service) checkToken(t tenant.ID, purpose string) func(*Token, error) (*Token, error) {
	return func(tok *Token, err error) (*Token, error) {
		if errors.Is(err, ErrTokenInvalid) {
			return nil, ErrTokenInvalid
		}
		if err != nil {
			return nil, err
		}
		if tok.Tenant != t || tok.Purpose != purpose || !s.Now().Before(tok.Expires) {
			return nil, ErrTokenInvalid
		}
		return tok, nil
	}
}
