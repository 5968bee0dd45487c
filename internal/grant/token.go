package grant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Secret prefixes, so that a leaked value says what it is (and secret
// scanners can find it).
const (
	PrefixRefresh = "trt"
	PrefixOpaque  = "tat"
)

// Issue is what to issue: for a user (from a redeemed code) or for the
// client itself (client credentials, User empty).
type Issue struct {
	Tenant    tenant.ID
	App       access.AppID
	ClientID  string
	GrantType string // access.GrantAuthorizationCode or access.GrantClientCredentials
	User      user.ID
	Session   session.ID
	Request   RequestID
	Issuer    string
	// Code, when set, is the authorization code being redeemed: Issue uses
	// it up in its transaction, so of two redemptions one issues and the
	// other is a replay that revokes what the first issued.
	Code     string
	Scopes   []string
	AuthTime time.Time
	AMR      []string
	// Opaque issues an opaque access token rather than a JWT's id.
	Opaque         bool
	AccessLifetime time.Duration
	// Refresh issues a refresh token, bounding the family by
	// RefreshLifetime (zero: by the session alone).
	Refresh         bool
	RefreshLifetime time.Duration
}

// Issued is what Issue or Rotate created.
type Issued struct {
	Grant *Grant // nil for client credentials
	// AccessID is the opaque access token itself, or the jti of a JWT.
	AccessID       string
	AccessExpires  time.Time
	RefreshToken   string // "" when none
	RefreshExpires time.Time
}

// Issue creates a grant (for a user) and its first tokens, with the audit
// event, in one transaction: app.sso for a code exchange, oauth.token for
// client credentials.
func (s *Service) Issue(ctx context.Context, in Issue) (*Issued, error) {
	now := s.Now()
	out := &Issued{}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if in.Code != "" {
			if _, err := s.Store.RedeemOAuthCode(ctx, in.Tenant, Hash(in.Code), now); err != nil {
				return err
			}
		}
		if in.Session != "" {
			// A code redeemed after its session ended (sign-out, an admin's
			// revocation) would give a grant no logout will reach.
			live, err := s.Store.SessionLive(ctx, in.Tenant, in.Session, now)
			if err != nil {
				return err
			}
			if !live {
				return ErrSessionEnded
			}
		}
		var gid ID
		if in.User != "" {
			g := &Grant{Tenant: in.Tenant, ID: ID(id.New("grt", now)), App: in.App, ClientID: in.ClientID, User: in.User,
				Session: in.Session, Request: in.Request, Issuer: in.Issuer, Scopes: in.Scopes, AuthTime: in.AuthTime, AMR: in.AMR, Created: now}
			if in.Refresh && in.RefreshLifetime > 0 {
				g.Expires = now.Add(in.RefreshLifetime)
			}
			if err := s.Store.CreateGrant(ctx, g); err != nil {
				return err
			}
			out.Grant, gid = g, g.ID
		}
		if err := s.issueTokens(ctx, out, in, gid, now); err != nil {
			return err
		}
		action, d := ActionToken, map[string]any{"client_id": in.ClientID, "grant_type": in.GrantType, "scopes": in.Scopes}
		if in.User != "" {
			action = audit.ActionSSO
			d["protocol"], d["session_id"], d["grant_id"] = "oidc", in.Session, gid
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(in.Tenant), now, action, audit.TargetApplication, string(in.App), d))
	})
	if errors.Is(err, ErrCodeInvalid) && in.Code != "" {
		// Another redemption won, or the code expired meanwhile.
		if prev, perr := s.Store.OAuthRequestByCode(ctx, in.Tenant, Hash(in.Code)); perr == nil && !prev.CodeUsed.IsZero() {
			return nil, s.replayed(ctx, prev)
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// issueTokens creates the access token and, when asked, a refresh token of
// grant gid.
func (s *Service) issueTokens(ctx context.Context, out *Issued, in Issue, gid ID, now time.Time) error {
	out.AccessID = id.New("atk", now)
	if in.Opaque {
		out.AccessID = NewSecret(PrefixOpaque)
	}
	out.AccessExpires = now.Add(in.AccessLifetime)
	at := &Token{Hash: Hash(out.AccessID), Tenant: in.Tenant, Kind: KindAccess, Grant: gid, App: in.App, ClientID: in.ClientID,
		User: in.User, Scopes: in.Scopes, Created: now, Expires: out.AccessExpires}
	if err := s.Store.CreateOAuthToken(ctx, at); err != nil {
		return err
	}
	if !in.Refresh || gid == "" {
		return nil
	}
	out.RefreshToken = NewSecret(PrefixRefresh)
	// A refresh token lives as long as its family may; the user's access
	// ending (checked at each use) or the session's end (which revokes
	// families without offline access) end it sooner.
	out.RefreshExpires = now.Add(in.RefreshLifetime)
	if in.RefreshLifetime <= 0 {
		out.RefreshExpires = now.Add(access.MaxRefreshTokenLifetime * time.Second)
	}
	if out.Grant != nil && !out.Grant.Expires.IsZero() && out.Grant.Expires.Before(out.RefreshExpires) {
		out.RefreshExpires = out.Grant.Expires
	}
	rt := &Token{Hash: Hash(out.RefreshToken), Tenant: in.Tenant, Kind: KindRefresh, Grant: gid, App: in.App, ClientID: in.ClientID,
		User: in.User, Scopes: in.Scopes, Created: now, Expires: out.RefreshExpires}
	return s.Store.CreateOAuthToken(ctx, rt)
}

// Refresh checks a refresh token and returns its grant (the caller checks
// that the grant's client is the one presenting it). A token that was rotated already is a reuse: the whole family is
// revoked (RFC 9700 §4.14.2). A grant whose user may no longer use the
// application is revoked too.
func (s *Service) Refresh(ctx context.Context, t tenant.ID, refresh string) (*Grant, error) {
	tok, err := s.Store.OAuthToken(ctx, Hash(refresh))
	if err != nil || tok.Tenant != t || tok.Kind != KindRefresh {
		return nil, ErrTokenInvalid
	}
	if !tok.Used.IsZero() {
		if _, err := s.revoke(ctx, t, GrantMatch{ID: tok.Grant}, ReasonRefreshReuse); err != nil {
			return nil, err
		}
		return nil, ErrTokenInvalid
	}
	now := s.Now()
	if !tok.Revoked.IsZero() || !now.Before(tok.Expires) {
		return nil, ErrTokenInvalid
	}
	g, err := s.activeGrant(ctx, t, tok.Grant, now)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// activeGrant returns grant gid while it is live (not revoked, not past its
// family's end) and its user may use the application; a grant whose user
// lost access is revoked on the spot.
func (s *Service) activeGrant(ctx context.Context, t tenant.ID, gid ID, now time.Time) (*Grant, error) {
	g, err := s.Store.Grant(ctx, t, gid)
	if err != nil || !g.Active(now) {
		return nil, ErrTokenInvalid
	}
	reason, err := s.Allowed(ctx, t, g.User, g.App)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		if _, err := s.revoke(ctx, t, GrantMatch{ID: g.ID}, ReasonNoAccess); err != nil {
			return nil, err
		}
		return nil, ErrTokenInvalid
	}
	return g, nil
}

// Rotate uses up refresh token current of g and issues its successor and
// a new access token. Of two concurrent rotations of one token, the loser
// is a reuse and revokes the family.
func (s *Service) Rotate(ctx context.Context, g *Grant, current string, in Issue) (*Issued, error) {
	now := s.Now()
	out := &Issued{Grant: g}
	reused := false
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		ok, err := s.Store.UseRefreshToken(ctx, Hash(current), now)
		if err != nil {
			return err
		}
		if !ok {
			reused = true
			return nil
		}
		in.Tenant, in.App, in.ClientID, in.User, in.Refresh = g.Tenant, g.App, g.ClientID, g.User, true
		in.RefreshLifetime = 0
		if !g.Expires.IsZero() {
			in.RefreshLifetime = g.Expires.Sub(now)
		}
		if err := s.issueTokens(ctx, out, in, g.ID, now); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(g.Tenant), now, ActionToken, audit.TargetApplication, string(g.App),
			map[string]any{"client_id": g.ClientID, "grant_type": access.GrantRefreshToken, "grant_id": g.ID, "user_id": g.User, "scopes": in.Scopes}))
	})
	if err != nil {
		return nil, err
	}
	if reused {
		if _, err := s.revoke(ctx, g.Tenant, GrantMatch{ID: g.ID}, ReasonRefreshReuse); err != nil {
			return nil, err
		}
		return nil, ErrTokenInvalid
	}
	return out, nil
}

// AccessToken returns the record of a live access token of tenant t (by
// the opaque value or a JWT's jti) and its grant (nil for client
// credentials): not expired, not revoked, its grant live and its user still
// allowed to use the application.
func (s *Service) AccessToken(ctx context.Context, t tenant.ID, accessID string) (*Token, *Grant, error) {
	tok, err := s.Store.OAuthToken(ctx, Hash(accessID))
	now := s.Now()
	if err != nil || tok.Tenant != t || tok.Kind != KindAccess || !tok.Revoked.IsZero() || !now.Before(tok.Expires) {
		return nil, nil, ErrTokenInvalid
	}
	if tok.Grant == "" {
		a, err := s.Access.Application(ctx, tenant.Scope{Tenant: t}, tok.App)
		if err != nil || a.Status != access.AppActive {
			return nil, nil, ErrTokenInvalid
		}
		return tok, nil, nil
	}
	g, err := s.activeGrant(ctx, t, tok.Grant, now)
	if err != nil {
		return nil, nil, err
	}
	return tok, g, nil
}

// ErrSessionEnded refuses to issue from a session that has ended.
var ErrSessionEnded = fmt.Errorf("the sign-in this code came from has ended: %w", errkind.Invalid)

// MaxAssertionLifetime bounds how far ahead a client assertion may expire:
// its id is remembered until then, and a long-lived assertion is a
// long-lived credential.
const MaxAssertionLifetime = 10 * time.Minute

// ErrAssertionReplay refuses a client assertion used before.
var ErrAssertionReplay = fmt.Errorf("client assertion already used: %w", errkind.Unauthenticated)

// UseAssertion accepts a verified client assertion (RFC 7523 §3) of
// clientID once: its jti is required and remembered until it expires
// (OIDC Core §9: an assertion is used once), and it may not expire more
// than MaxAssertionLifetime ahead.
func (s *Service) UseAssertion(ctx context.Context, t tenant.ID, clientID, jti string, expires time.Time) error {
	now := s.Now()
	switch {
	case jti == "" || len(jti) > 256:
		return fmt.Errorf("client assertion needs a jti of 1 to 256 characters: %w", errkind.Unauthenticated)
	case !now.Before(expires):
		return fmt.Errorf("client assertion expired: %w", errkind.Unauthenticated)
	case expires.After(now.Add(MaxAssertionLifetime)):
		return fmt.Errorf("client assertion expires more than %s ahead: %w", MaxAssertionLifetime, errkind.Unauthenticated)
	}
	return s.Store.RecordAssertion(ctx, t, clientID, jti, expires, now)
}

// Revoke revokes a token that clientID presents (RFC 7009 §2.1): a refresh
// token ends its whole grant, an access token itself. A token that is
// unknown or another client's changes nothing, and says nothing.
func (s *Service) Revoke(ctx context.Context, t tenant.ID, clientID, value string) error {
	tok, err := s.Store.OAuthToken(ctx, Hash(value))
	if errors.Is(err, ErrTokenInvalid) || (err == nil && (tok.Tenant != t || tok.ClientID != clientID)) {
		return nil
	}
	if err != nil {
		return err
	}
	if tok.Kind == KindRefresh {
		_, err := s.revoke(ctx, t, GrantMatch{ID: tok.Grant}, ReasonRevoked)
		return err
	}
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.RevokeOAuthToken(ctx, tok.Hash, s.Now()); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), s.Now(), ActionRevoke, audit.TargetApplication, string(tok.App),
			map[string]any{"client_id": clientID, "grant_id": tok.Grant, "token": KindAccess, "reason": ReasonRevoked}))
	})
}
