package tenant

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/page"
)

// OrgID identifies an organization within a tenant.
type OrgID string

// Organization statuses. A suspended organization's users lose access (the
// access domain reads this); the CRM contract rules arrive later.
const (
	OrgActive    = "active"
	OrgSuspended = "suspended"
)

// Errors about organizations.
var (
	ErrOrgNotFound      = fmt.Errorf("organization %w", errkind.NotFound)
	ErrOrgNameTaken     = fmt.Errorf("organization name already in use: %w", errkind.Conflict)
	ErrExternalIDTaken  = fmt.Errorf("organization external_id already in use: %w", errkind.Conflict)
	ErrDomainTaken      = fmt.Errorf("domain already belongs to an organization of this tenant: %w", errkind.Conflict)
	ErrDomainNotFound   = fmt.Errorf("domain %w", errkind.NotFound)
	ErrDomainUnverified = fmt.Errorf("domain verification record not found: %w", errkind.Invalid)
	ErrOrgInUse         = fmt.Errorf("organization still has users or groups: %w", errkind.Conflict)
)

// Organization is a customer or partner company inside a tenant.
type Organization struct {
	Tenant     ID
	ID         OrgID
	Name       string
	ExternalID string // the CRM's account id; unique in the tenant when set
	Status     string
	Domains    []Domain
	Version    int64
	Created    time.Time
	Updated    time.Time
}

// Domain is an email domain claimed by an organization. Only verified domains
// are trusted for routing sign-ins (home-realm discovery) later.
type Domain struct {
	Name       string
	Verified   bool
	Token      string // expected in a DNS TXT record, see VerificationRecord
	VerifiedAt time.Time
	Created    time.Time
}

// VerificationRecord is the DNS name and TXT value that prove control of d.
func (d Domain) VerificationRecord() (name, value string) {
	return "_tessera-challenge." + d.Name, "tessera-verification=" + d.Token
}

// OrgQuery filters and pages organizations.
type OrgQuery struct {
	page.Request
	Status     string
	ExternalID string
	NamePrefix string
}

// OrgSorts are the sort fields ListOrganizations accepts; the first is the default.
var OrgSorts = []string{"created", "name"}

// NewOrganization is the input to CreateOrganization.
type NewOrganization struct {
	Name       string
	ExternalID string
	Status     string // default active
	Domains    []string
}

// OrganizationPatch changes the fields that are non-nil.
type OrganizationPatch struct {
	Name       *string
	ExternalID *string // "" clears it
	Status     *string
}

// Resolver looks up DNS TXT records; *net.Resolver satisfies it.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

func validateStatus(s string) error {
	if s != OrgActive && s != OrgSuspended {
		return errkind.Field("status", "must be active or suspended")
	}
	return nil
}

func validateExternalID(v string) error {
	if len(v) > 255 || strings.ContainsFunc(v, isControl) {
		return errkind.Field("external_id", "must be at most 255 printable characters")
	}
	return nil
}

// NormalizeDomain lower-cases a domain name and checks it is a plausible
// registrable host name in ASCII (IDNs in their xn-- form).
func NormalizeDomain(field, d string) (string, error) {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return "", errkind.Field(field, "must be a domain name such as example.com")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' ||
			strings.ContainsFunc(l, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) {
			return "", errkind.Field(field, "must be a domain name such as example.com (IDNs in xn-- form)")
		}
	}
	return d, nil
}

func (s *Service) newDomain(name string, now time.Time) Domain {
	return Domain{Name: name, Token: strings.ToLower(rand.Text()), Created: now}
}

// CreateOrganization adds an organization. Only a tenant-wide scope may.
func (s *Service) CreateOrganization(ctx context.Context, sc Scope, in NewOrganization) (*Organization, error) {
	if !sc.TenantWide() {
		return nil, fmt.Errorf("organization-scoped callers cannot create organizations: %w", errkind.Denied)
	}
	if in.Status == "" {
		in.Status = OrgActive
	}
	errs := []error{validateName("name", in.Name), validateStatus(in.Status), validateExternalID(in.ExternalID)}
	now := s.Now()
	o := &Organization{
		Tenant: sc.Tenant, ID: OrgID(id.New("org", now)), Name: strings.TrimSpace(in.Name),
		ExternalID: in.ExternalID, Status: in.Status, Version: 1, Created: now, Updated: now,
	}
	for i, d := range in.Domains {
		name, err := NormalizeDomain(fmt.Sprintf("domains.%d", i), d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if slices.ContainsFunc(o.Domains, func(x Domain) bool { return x.Name == name }) {
			errs = append(errs, errkind.Field(fmt.Sprintf("domains.%d", i), "is listed twice"))
			continue
		}
		o.Domains = append(o.Domains, s.newDomain(name, now))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.CreateOrganization(ctx, o); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "organization.created", "organization", string(o.ID),
			map[string]any{"name": o.Name, "status": o.Status}))
	})
	if err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	return o, nil
}

// Organization returns one organization visible in sc.
func (s *Service) Organization(ctx context.Context, sc Scope, org OrgID) (*Organization, error) {
	if !sc.Allows(org) {
		return nil, ErrOrgNotFound
	}
	return s.Store.Organization(ctx, sc.Tenant, org)
}

// OrganizationStatus returns an organization visible in sc as a sign-in
// needs it, read now: its name and status, and no Domains (left nil),
// which take a second read.
func (s *Service) OrganizationStatus(ctx context.Context, sc Scope, org OrgID) (*Organization, error) {
	if !sc.Allows(org) {
		return nil, ErrOrgNotFound
	}
	return s.Store.OrganizationRow(ctx, sc.Tenant, org)
}

// ListOrganizations pages the organizations visible in sc.
func (s *Service) ListOrganizations(ctx context.Context, sc Scope, q OrgQuery) (page.Of[Organization], error) {
	if err := q.Normalize(OrgSorts...); err != nil {
		return page.Of[Organization]{}, err
	}
	if q.Status != "" {
		if err := validateStatus(q.Status); err != nil {
			return page.Of[Organization]{}, err
		}
	}
	if !sc.TenantWide() {
		o, err := s.Store.Organization(ctx, sc.Tenant, sc.Org)
		if err != nil || q.Cursor != "" || !orgMatches(o, q) {
			return page.Of[Organization]{}, err
		}
		return page.Of[Organization]{Items: []Organization{*o}}, nil
	}
	return s.Store.ListOrganizations(ctx, sc.Tenant, q)
}

func orgMatches(o *Organization, q OrgQuery) bool {
	return (q.Status == "" || o.Status == q.Status) && (q.ExternalID == "" || o.ExternalID == q.ExternalID) &&
		strings.HasPrefix(strings.ToLower(o.Name), strings.ToLower(q.NamePrefix))
}

// UpdateOrganization applies p. Organization-scoped callers may rename their
// own organization but not change its status or CRM id.
func (s *Service) UpdateOrganization(ctx context.Context, sc Scope, org OrgID, p OrganizationPatch, ifVersion int64) (*Organization, error) {
	if !sc.Allows(org) {
		return nil, ErrOrgNotFound
	}
	if !sc.TenantWide() && (p.Status != nil || p.ExternalID != nil) {
		return nil, fmt.Errorf("organization-scoped callers cannot change status or external_id: %w", errkind.Denied)
	}
	var errs []error
	if p.Name != nil {
		errs = append(errs, validateName("name", *p.Name))
	}
	if p.Status != nil {
		errs = append(errs, validateStatus(*p.Status))
	}
	if p.ExternalID != nil {
		errs = append(errs, validateExternalID(*p.ExternalID))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var statusChanged bool
	o, err := s.changeOrganization(ctx, sc, org, ifVersion, "organization.updated", func(o *Organization) (map[string]any, error) {
		changed := map[string]any{}
		if p.Name != nil && strings.TrimSpace(*p.Name) != o.Name {
			changed["name"] = diff(o.Name, strings.TrimSpace(*p.Name))
			o.Name = strings.TrimSpace(*p.Name)
		}
		if p.ExternalID != nil && *p.ExternalID != o.ExternalID {
			changed["external_id"] = diff(o.ExternalID, *p.ExternalID)
			o.ExternalID = *p.ExternalID
		}
		if p.Status != nil && *p.Status != o.Status {
			changed["status"] = diff(o.Status, *p.Status)
			o.Status = *p.Status
			statusChanged = true
		}
		return changed, nil
	}, func(ctx context.Context) error {
		if statusChanged && s.OrgStatusChanged != nil {
			return s.OrgStatusChanged(ctx, sc.Tenant, org)
		}
		return nil
	})
	return o, err
}

func diff(old, new any) map[string]any { return map[string]any{"old": old, "new": new} }

// changeOrganization runs fn on the current organization inside a
// transaction, bumps its version and appends the audit event. fn returns the
// change summary; an empty summary means nothing changed and nothing is written.
func (s *Service) changeOrganization(ctx context.Context, sc Scope, org OrgID, ifVersion int64, action string,
	fn func(*Organization) (map[string]any, error), after ...func(context.Context) error) (*Organization, error) {
	var out *Organization
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var details map[string]any
		var err error
		out, err = s.Store.UpdateOrganization(ctx, sc.Tenant, org, func(o *Organization) error {
			if err := errkind.CheckVersion(o.Version, ifVersion); err != nil {
				return err
			}
			if details, err = fn(o); err != nil || len(details) == 0 {
				return err
			}
			o.Version++
			o.Updated = s.Now()
			return nil
		})
		if err != nil || len(details) == 0 {
			return err
		}
		for _, a := range after {
			if err := a(ctx); err != nil {
				return err
			}
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), out.Updated, action, "organization", string(org), details))
	})
	if err != nil {
		return nil, fmt.Errorf("update organization %s: %w", org, err)
	}
	return out, nil
}

// DeleteOrganization removes an organization that no user or group is homed
// in. Only a tenant-wide scope may.
func (s *Service) DeleteOrganization(ctx context.Context, sc Scope, org OrgID) error {
	if !sc.TenantWide() {
		return fmt.Errorf("organization-scoped callers cannot delete organizations: %w", errkind.Denied)
	}
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.DeleteOrganization(ctx, sc.Tenant, org); err != nil {
			return fmt.Errorf("delete organization %s: %w", org, err)
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "organization.deleted", "organization", string(org), nil))
	})
}

// AddDomain claims a domain for an organization, unverified.
func (s *Service) AddDomain(ctx context.Context, sc Scope, org OrgID, domain string) (*Organization, error) {
	name, err := NormalizeDomain("domain", domain)
	if err != nil {
		return nil, err
	}
	if !sc.Allows(org) {
		return nil, ErrOrgNotFound
	}
	return s.changeOrganization(ctx, sc, org, 0, "organization.domain_added", func(o *Organization) (map[string]any, error) {
		if slices.ContainsFunc(o.Domains, func(d Domain) bool { return d.Name == name }) {
			return nil, ErrDomainTaken
		}
		o.Domains = append(o.Domains, s.newDomain(name, s.Now()))
		return map[string]any{"domain": name}, nil
	})
}

// RemoveDomain drops a domain from an organization.
func (s *Service) RemoveDomain(ctx context.Context, sc Scope, org OrgID, domain string) (*Organization, error) {
	name, err := NormalizeDomain("domain", domain)
	if err != nil {
		return nil, err
	}
	if !sc.Allows(org) {
		return nil, ErrOrgNotFound
	}
	return s.changeOrganization(ctx, sc, org, 0, "organization.domain_removed", func(o *Organization) (map[string]any, error) {
		i := slices.IndexFunc(o.Domains, func(d Domain) bool { return d.Name == name })
		if i < 0 {
			return nil, ErrDomainNotFound
		}
		o.Domains = slices.Delete(o.Domains, i, i+1)
		return map[string]any{"domain": name}, nil
	})
}

// VerifyDomain looks up the domain's TXT challenge record and marks the domain
// verified when the expected value is there. Only a tenant-wide scope may
// verify: a verified domain routes sign-ins, which an organization admin must
// not be able to claim for itself without the operator.
func (s *Service) VerifyDomain(ctx context.Context, sc Scope, org OrgID, domain string) (*Organization, error) {
	name, err := NormalizeDomain("domain", domain)
	if err != nil {
		return nil, err
	}
	if !sc.Allows(org) {
		return nil, ErrOrgNotFound
	}
	if !sc.TenantWide() {
		return nil, fmt.Errorf("organization-scoped callers cannot verify domains: %w", errkind.Denied)
	}
	o, err := s.Store.Organization(ctx, sc.Tenant, org)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(o.Domains, func(d Domain) bool { return d.Name == name })
	if i < 0 {
		return nil, ErrDomainNotFound
	}
	if o.Domains[i].Verified {
		return o, nil
	}
	// The DNS look-up happens outside the transaction: never hold a write lock
	// across network I/O.
	record, want := o.Domains[i].VerificationRecord()
	txts, err := s.Resolver.LookupTXT(ctx, record)
	if err != nil || !slices.Contains(txts, want) {
		return nil, ErrDomainUnverified
	}
	return s.changeOrganization(ctx, sc, org, 0, "organization.domain_verified", func(o *Organization) (map[string]any, error) {
		i := slices.IndexFunc(o.Domains, func(d Domain) bool { return d.Name == name })
		if i < 0 {
			return nil, ErrDomainNotFound
		}
		if o.Domains[i].Verified {
			return nil, nil
		}
		o.Domains[i].Verified, o.Domains[i].VerifiedAt = true, s.Now()
		return map[string]any{"domain": name}, nil
	})
}

// NameKey is the form in which organization names must be unique.
func (o *Organization) NameKey() string { return strings.ToLower(o.Name) }

// OrganizationForEmail is home-realm discovery's first step: the
// organization that has verified the domain of email, or ErrOrgNotFound.
// An unverified claim on a domain never routes anyone.
func (s *Service) OrganizationForEmail(ctx context.Context, t ID, email string) (*Organization, error) {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || at == len(email)-1 {
		return nil, ErrOrgNotFound
	}
	domain := strings.ToLower(strings.TrimSuffix(email[at+1:], "."))
	o, err := s.Store.OrganizationByDomain(ctx, t, domain)
	if err != nil {
		return nil, err
	}
	for _, d := range o.Domains {
		if d.Name == domain && d.Verified {
			return o, nil
		}
	}
	return nil, ErrOrgNotFound
}
