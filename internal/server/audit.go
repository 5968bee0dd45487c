package server

import (
	"context"
	"fmt"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// AuditCheck is the verification of one tenant's audit log.
type AuditCheck struct {
	Slug string
	audit.Result
}

// VerifyAudit verifies the audit log of the tenant with slug, or of every
// tenant when slug is "" (the CLI's `audit verify`). It reads the archive
// files under DATA/audit-archive and the database across the boundary;
// dbOnly verifies the database alone, from its anchor.
func (s *Server) VerifyAudit(ctx context.Context, slug string, dbOnly bool) ([]AuditCheck, error) {
	ts, err := s.auditTenants(ctx, slug)
	if err != nil {
		return nil, err
	}
	verify := s.Audit.VerifyAll
	if dbOnly {
		verify = s.Audit.Verify
	}
	var out []AuditCheck
	for _, t := range ts {
		res, err := verify(ctx, string(t.ID))
		if err != nil {
			return out, fmt.Errorf("tenant %s: %w", t.Slug, err)
		}
		out = append(out, AuditCheck{Slug: t.Slug, Result: res})
	}
	return out, nil
}

// AuditArchiveRun is the archive run of one tenant.
type AuditArchiveRun struct {
	Slug      string
	Retention int // days; 0 keeps events forever (nothing archived)
	audit.ArchiveResult
}

// ArchiveAudit archives the events older than each tenant's retention
// (the CLI's `audit archive`), for the tenant with slug or all of them.
func (s *Server) ArchiveAudit(ctx context.Context, slug string) ([]AuditArchiveRun, error) {
	ts, err := s.auditTenants(ctx, slug)
	if err != nil {
		return nil, err
	}
	ctx = audit.WithActor(ctx, audit.Actor{Type: "cli", ID: "tessera audit archive"})
	var out []AuditArchiveRun
	for _, t := range ts {
		days, err := s.Audit.Retention(ctx, string(t.ID))
		if err != nil {
			return out, fmt.Errorf("tenant %s: %w", t.Slug, err)
		}
		res, err := s.Audit.Archive(ctx, string(t.ID))
		if err != nil {
			return out, fmt.Errorf("tenant %s: %w", t.Slug, err)
		}
		out = append(out, AuditArchiveRun{Slug: t.Slug, Retention: days, ArchiveResult: res})
	}
	return out, nil
}

func (s *Server) auditTenants(ctx context.Context, slug string) ([]tenant.Tenant, error) {
	if slug == "" {
		return s.Tenants.ListTenants(ctx)
	}
	t, err := s.Tenants.TenantBySlug(ctx, slug)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", slug, err)
	}
	return []tenant.Tenant{*t}, nil
}
