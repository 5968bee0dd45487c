package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// DefaultTenant is the slug of the tenant the first start creates.
const DefaultTenant = "default"

// Bootstrap creates the default tenant and an admin API token on the very
// first start, and prints the token's secret to out. It does nothing once any
// tenant exists, so the secret is printed exactly once.
func (s *Server) Bootstrap(ctx context.Context, out io.Writer) error {
	ts, err := s.Tenants.ListTenants(ctx)
	if err != nil || len(ts) > 0 {
		return err
	}
	ctx = audit.WithActor(ctx, audit.Actor{Type: "system", ID: "bootstrap"})
	var secret string
	err = s.db.InTx(ctx, func(ctx context.Context) error {
		t, err := s.Tenants.CreateTenant(ctx, DefaultTenant, "Default")
		if err != nil {
			return err
		}
		_, secret, err = s.Tokens.Create(ctx, tenant.Scope{Tenant: t.ID}, apitoken.NewToken{Name: "bootstrap", Role: apitoken.Admin})
		return err
	})
	if errors.Is(err, tenant.ErrSlugTaken) {
		return nil // another node bootstrapped at the same moment
	}
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	_, err = fmt.Fprintf(out, "\nTessera created tenant %q.\nBootstrap admin API token (shown only now; store it safely):\n\n    %s\n\n"+
		"Try: curl -H 'Authorization: Bearer %s' %s/api/v1/tenant\n\n", DefaultTenant, secret, secret, s.cfg.BaseURL())
	return err
}

// CreateToken issues an API token in the tenant with slug (the CLI's
// `admin token create`).
func (s *Server) CreateToken(ctx context.Context, slug string, in apitoken.NewToken) (*apitoken.Token, string, error) {
	t, err := s.Tenants.TenantBySlug(ctx, slug)
	if err != nil {
		return nil, "", fmt.Errorf("tenant %q: %w", slug, err)
	}
	ctx = audit.WithActor(ctx, audit.Actor{Type: "cli", ID: "tessera admin"})
	return s.Tokens.Create(ctx, tenant.Scope{Tenant: t.ID}, in)
}
