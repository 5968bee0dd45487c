package apitoken

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// ID identifies a token.
type ID string

// Role is what a token may do.
type Role string

// Roles, from most to least powerful.
const (
	Admin       Role = "admin"        // everything in its reach, including tokens and settings
	UserManager Role = "user-manager" // users, groups, memberships and passwords; reads the rest
	ReadOnly    Role = "read-only"    // reads only
)

// Roles lists every role.
var Roles = []Role{Admin, UserManager, ReadOnly}

// SecretPrefix starts every token secret so secret scanners can spot leaks.
const SecretPrefix = "tsk_"

// lastUsedGranularity bounds how often a token's last-used time is written:
// once a minute is precise enough and keeps reads from turning into writes.
const lastUsedGranularity = time.Minute

// Errors about tokens.
var (
	ErrNotFound = fmt.Errorf("api token %w", errkind.NotFound)
	// ErrInvalid covers unknown, malformed, revoked and expired secrets alike.
	ErrInvalid = fmt.Errorf("api token invalid, revoked or expired: %w", errkind.Unauthenticated)
)

// Token is an API credential, without its secret.
type Token struct {
	Tenant   tenant.ID
	ID       ID
	Name     string
	Role     Role
	Org      tenant.OrgID // set for organization-scoped tokens
	Digest   string
	Created  time.Time
	Expires  time.Time // zero: never
	Revoked  time.Time // zero: not revoked
	LastUsed time.Time
}

// Scope is the reach of the token.
func (t *Token) Scope() tenant.Scope { return tenant.Scope{Tenant: t.Tenant, Org: t.Org} }

// Store keeps tokens.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	audit.Appender
	Organization(ctx context.Context, t tenant.ID, id tenant.OrgID) (*tenant.Organization, error)

	CreateToken(ctx context.Context, t *Token) error
	TokenByDigest(ctx context.Context, digest string) (*Token, error)
	ListTokens(ctx context.Context, t tenant.ID) ([]Token, error)
	// RevokeToken stamps at as the revocation time unless already revoked;
	// revoked reports whether this call revoked it.
	RevokeToken(ctx context.Context, t tenant.ID, id ID, at time.Time) (tok *Token, revoked bool, err error)
	TouchToken(ctx context.Context, t tenant.ID, id ID, at time.Time) error
}

// Service issues and checks tokens.
type Service struct {
	Store  Store
	Now    func() time.Time
	Digest keys.Digester
}

// NewToken is the input to Create.
type NewToken struct {
	Name    string
	Role    Role
	Org     tenant.OrgID
	Expires time.Time // zero: never
}

// Create issues a token and returns its secret, which is never shown again.
func (s *Service) Create(ctx context.Context, sc tenant.Scope, in NewToken) (*Token, string, error) {
	if !sc.TenantWide() {
		return nil, "", fmt.Errorf("organization-scoped callers cannot issue tokens: %w", errkind.Denied)
	}
	now := s.Now()
	var errs []error
	if n := strings.TrimSpace(in.Name); n == "" || utf8.RuneCountInString(n) > 200 {
		errs = append(errs, errkind.Field("name", "is required, at most 200 characters"))
	}
	if !slices.Contains(Roles, in.Role) {
		errs = append(errs, errkind.Field("role", "must be admin, user-manager or read-only"))
	}
	if !in.Expires.IsZero() && !in.Expires.After(now) {
		errs = append(errs, errkind.Field("expires_at", "must be in the future"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, "", err
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := SecretPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t := &Token{Tenant: sc.Tenant, ID: ID(id.New("tok", now)), Name: strings.TrimSpace(in.Name), Role: in.Role,
		Org: in.Org, Digest: s.Digest.Digest(secret), Created: now, Expires: in.Expires}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if t.Org != "" {
			if _, err := s.Store.Organization(ctx, sc.Tenant, t.Org); errors.Is(err, errkind.NotFound) {
				return errkind.Field("organization_id", "no such organization")
			} else if err != nil {
				return err
			}
		}
		if err := s.Store.CreateToken(ctx, t); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "api_token.created", "api_token", string(t.ID),
			map[string]any{"name": t.Name, "role": t.Role, "organization_id": t.Org}))
	})
	if err != nil {
		return nil, "", fmt.Errorf("create api token: %w", err)
	}
	return t, secret, nil
}

// Authenticate returns the live token whose secret this is.
func (s *Service) Authenticate(ctx context.Context, secret string) (*Token, error) {
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != len(SecretPrefix)+43 {
		return nil, ErrInvalid
	}
	t, err := s.Store.TokenByDigest(ctx, s.Digest.Digest(secret))
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, err
	}
	now := s.Now()
	if !t.Revoked.IsZero() || (!t.Expires.IsZero() && !now.Before(t.Expires)) {
		return nil, ErrInvalid
	}
	if now.Sub(t.LastUsed) >= lastUsedGranularity {
		if err := s.Store.TouchToken(ctx, t.Tenant, t.ID, now); err != nil {
			return nil, fmt.Errorf("touch api token: %w", err)
		}
		t.LastUsed = now
	}
	return t, nil
}

// List returns the tenant's tokens, newest first.
func (s *Service) List(ctx context.Context, sc tenant.Scope) ([]Token, error) {
	if !sc.TenantWide() {
		return nil, fmt.Errorf("organization-scoped callers cannot list tokens: %w", errkind.Denied)
	}
	return s.Store.ListTokens(ctx, sc.Tenant)
}

// Revoke ends a token at once. Revoking twice is harmless.
func (s *Service) Revoke(ctx context.Context, sc tenant.Scope, tid ID) (*Token, error) {
	if !sc.TenantWide() {
		return nil, fmt.Errorf("organization-scoped callers cannot revoke tokens: %w", errkind.Denied)
	}
	var out *Token
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		now := s.Now()
		var revoked bool
		var err error
		if out, revoked, err = s.Store.RevokeToken(ctx, sc.Tenant, tid, now); err != nil || !revoked {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "api_token.revoked", "api_token", string(tid), nil))
	})
	return out, err
}
