package grant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// ID identifies a grant.
type ID string

// Grant is what one authorization gave one client: a refresh-token family
// and the access tokens issued from it. Client credentials have no grant;
// their access tokens stand alone.
type Grant struct {
	Tenant   tenant.ID
	ID       ID
	App      access.AppID
	ClientID string
	User     user.ID
	Session  session.ID // the browser session the authorization came from
	Request  RequestID  // the authorization request, for code replay
	Issuer   string     // the issuer it was given under (the tenant's URL or own domain), for logout tokens
	Scopes   []string
	AuthTime time.Time
	AMR      []string
	Created  time.Time
	Expires  time.Time // the family's absolute end; zero: none
	Revoked  time.Time
	Reason   string // why it was revoked
}

// Active reports whether the grant may still be used at now.
func (g *Grant) Active(now time.Time) bool {
	return g.Revoked.IsZero() && (g.Expires.IsZero() || now.Before(g.Expires))
}

// Kinds of token.
const (
	KindAccess  = "access"
	KindRefresh = "refresh"
)

// Token is the record of an access or refresh token, found by the digest
// of its value (opaque tokens, refresh tokens) or of its id (JWTs).
type Token struct {
	Hash     string
	Tenant   tenant.ID
	Kind     string
	Grant    ID // empty for client credentials
	App      access.AppID
	ClientID string
	User     user.ID
	Scopes   []string
	Created  time.Time
	Expires  time.Time
	Used     time.Time // a refresh token that was rotated
	Revoked  time.Time
}

// Reasons a grant ends, in its record and its audit event.
const (
	ReasonCodeReplay   = "code_replay"   // its code was presented a second time
	ReasonRefreshReuse = "refresh_reuse" // a rotated refresh token came back
	ReasonRevoked      = "revoked"       // the client revoked it (RFC 7009)
	ReasonLogout       = "logout"        // the session it came from ended
	ReasonNoAccess     = "no_access"     // the user may no longer use the application
	ReasonConsent      = "consent_revoked"
)

// Audit actions of the provider. A code exchange is an app.sso event, so
// that "who signed in to X and when" covers OpenID Connect.
const (
	ActionToken       = "oauth.token"   // a refresh or client-credentials grant
	ActionRevoke      = "oauth.revoke"  // a grant or token revoked, for whatever reason
	ActionConsent     = "oauth.consent" // consent given
	ActionConsentGone = "oauth.consent_revoked"
)

// Errors of the provider's state. They are deliberately alike: a client
// learns that a code or token is no good, never why.
var (
	ErrRequestNotFound = fmt.Errorf("authorization request not found or expired: %w", errkind.NotFound)
	ErrCodeIssued      = fmt.Errorf("a code was already issued for this request: %w", errkind.Conflict)
	ErrCodeInvalid     = fmt.Errorf("invalid authorization code: %w", errkind.Invalid)
	ErrTokenInvalid    = fmt.Errorf("invalid or inactive token: %w", errkind.Invalid)
)

// Store keeps requests, grants, tokens and consents.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	AfterCommit(ctx context.Context, fn func())
	audit.Appender

	CreateOAuthRequest(ctx context.Context, r *Request) error
	// OAuthRequest reads a request, expired or not.
	OAuthRequest(ctx context.Context, t tenant.ID, id RequestID) (*Request, error)
	// UpdateOAuthRequest applies fn to the locked request and stores it.
	UpdateOAuthRequest(ctx context.Context, t tenant.ID, id RequestID, fn func(*Request) error) (*Request, error)
	// SetOAuthCode records the digest of the request's code unless it has
	// one already (ErrCodeIssued).
	SetOAuthCode(ctx context.Context, t tenant.ID, id RequestID, hash string, expires time.Time) error
	// RedeemOAuthCode marks the code used and returns its request; of two
	// concurrent calls only one succeeds. ErrCodeInvalid when the code is
	// unknown, used or expired.
	RedeemOAuthCode(ctx context.Context, t tenant.ID, hash string, now time.Time) (*Request, error)
	// OAuthRequestByCode reads the request of a code, used or not.
	OAuthRequestByCode(ctx context.Context, t tenant.ID, hash string) (*Request, error)

	CreateGrant(ctx context.Context, g *Grant) error
	Grant(ctx context.Context, t tenant.ID, id ID) (*Grant, error)
	// SessionLive reports whether browser session sid exists and has not
	// reached its absolute end; on PostgreSQL it holds the session row
	// (FOR SHARE) until the transaction ends, so that a sign-out waits for
	// a grant being issued from the session and then revokes it.
	SessionLive(ctx context.Context, t tenant.ID, sid session.ID, now time.Time) (bool, error)
	// SessionGrants lists the live grants that came from session sid.
	SessionGrants(ctx context.Context, t tenant.ID, sid session.ID) ([]Grant, error)
	// RevokeGrants revokes the live grants that match and the tokens issued
	// from them, and returns the grants it revoked.
	RevokeGrants(ctx context.Context, t tenant.ID, match GrantMatch, now time.Time, reason string) ([]Grant, error)

	CreateOAuthToken(ctx context.Context, tok *Token) error
	OAuthToken(ctx context.Context, hash string) (*Token, error)
	// UseRefreshToken marks an unused refresh token used; false when it was
	// used already (of two concurrent calls, one gets true).
	UseRefreshToken(ctx context.Context, hash string, now time.Time) (bool, error)
	RevokeOAuthToken(ctx context.Context, hash string, now time.Time) error

	Consent(ctx context.Context, t tenant.ID, u user.ID, app access.AppID) (*Consent, error)
	PutConsent(ctx context.Context, c *Consent) error
	DeleteConsent(ctx context.Context, t tenant.ID, u user.ID, app access.AppID) (bool, error)
	ListConsents(ctx context.Context, t tenant.ID, u user.ID) ([]Consent, error)

	// RecordAssertion records a client assertion's id until expires;
	// ErrAssertionReplay when it is recorded and live.
	RecordAssertion(ctx context.Context, t tenant.ID, clientID, jti string, expires, now time.Time) error

	// DeleteExpiredOAuth forgets requests, tokens and grants that ended
	// before now (grants once their tokens are gone).
	DeleteExpiredOAuth(ctx context.Context, now time.Time) (int, error)
}

// GrantMatch selects grants to revoke; set members must all match.
type GrantMatch struct {
	ID      ID
	Request RequestID
	Session session.ID
	User    user.ID
	App     access.AppID
}

// Service runs the provider's state.
type Service struct {
	Store   Store
	Now     func() time.Time
	Users   *user.Service
	Tenants *tenant.Service
	Access  *access.Service
}

// Hash is the digest under which a code or token is stored: SHA-256, hex.
// The values are 256-bit random, so no key or stretching is needed.
func Hash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// NewSecret returns prefix + "_" + 256 random bits, for codes, refresh
// tokens and opaque access tokens.
func NewSecret(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return prefix + "_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// Allowed says why user u may not use app now, or "" when they may: the
// user must be active, their organization active, the application on, and
// their effective access must include it.
func (s *Service) Allowed(ctx context.Context, t tenant.ID, u user.ID, app access.AppID) (string, error) {
	sc := tenant.Scope{Tenant: t}
	usr, err := s.Users.User(ctx, sc, u)
	if errors.Is(err, user.ErrNotFound) {
		return "user_gone", nil
	}
	if err != nil {
		return "", err
	}
	if usr.Status != user.Active {
		return "user_inactive", nil
	}
	if usr.Org != "" {
		o, err := s.Tenants.Organization(ctx, sc, usr.Org)
		if err != nil {
			return "", err
		}
		if o.Status != tenant.OrgActive {
			return "organization_suspended", nil
		}
	}
	a, err := s.Access.Application(ctx, sc, app)
	if errors.Is(err, access.ErrAppNotFound) {
		return "application_gone", nil
	}
	if err != nil {
		return "", err
	}
	if a.Status != access.AppActive {
		return "application_off", nil
	}
	ivs, err := s.Access.PermissionsAt(ctx, sc, u, time.Time{})
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(ivs, func(iv access.Interval) bool { return iv.App == app }) {
		return "not_assigned", nil
	}
	return "", nil
}

// revoke revokes the grants that match and audits each, in one
// transaction.
func (s *Service) revoke(ctx context.Context, t tenant.ID, match GrantMatch, reason string) ([]Grant, error) {
	var gs []Grant
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var err error
		gs, err = s.Store.RevokeGrants(ctx, t, match, s.Now(), reason)
		if err != nil {
			return err
		}
		for _, g := range gs {
			e := audit.New(ctx, string(t), s.Now(), ActionRevoke, audit.TargetApplication, string(g.App),
				map[string]any{"grant_id": g.ID, "client_id": g.ClientID, "user_id": g.User, "reason": reason})
			if err := s.Store.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	return gs, err
}

// EndSessions handles the end of browser sessions ids (sign-out, logout
// asked by an application, revocation, the user's suspension): it revokes
// the grants they gave without offline access, and keeps those with it,
// which are meant to outlive the session (OIDC Core §11, Back-Channel
// Logout §2.7). It returns every live grant of those sessions: each
// client is told of the logout either way.
func (s *Service) EndSessions(ctx context.Context, t tenant.ID, ids []session.ID) ([]Grant, error) {
	var out []Grant
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		for _, sid := range ids {
			gs, err := s.Store.SessionGrants(ctx, t, sid)
			if err != nil {
				return err
			}
			for _, g := range gs {
				if !slices.Contains(g.Scopes, access.ScopeOfflineAccess) {
					if _, err := s.revoke(ctx, t, GrantMatch{ID: g.ID}, ReasonLogout); err != nil {
						return err
					}
				}
			}
			out = append(out, gs...)
		}
		return nil
	})
	return out, err
}

// AfterCommit runs fn once the transaction in ctx commits (at once outside
// one): for deliveries that must not announce what might roll back.
func (s *Service) AfterCommit(ctx context.Context, fn func()) { s.Store.AfterCommit(ctx, fn) }

// EndUserGrants revokes u's grants at app.
func (s *Service) EndUserGrants(ctx context.Context, t tenant.ID, u user.ID, app access.AppID) ([]Grant, error) {
	return s.revoke(ctx, t, GrantMatch{User: u, App: app}, ReasonLogout)
}

// PurgeExpired forgets requests and tokens past their end, and grants
// that have ended with no tokens left.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	return s.Store.DeleteExpiredOAuth(ctx, s.Now())
}
