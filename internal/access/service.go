package access

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Service applies the rules of access.
type Service struct {
	Store Store
	Now   func() time.Time
	// SecretDigest keys the digests of OIDC client secrets (HMAC-SHA256
	// under a master-key-derived key, keys.Digester); without it no secret
	// is issued or checked.
	SecretDigest func(secret string) string
}

var errOrgScoped = fmt.Errorf("organization-scoped callers cannot manage applications and business roles: %w", errkind.Denied)

// NewApplication is the input to CreateApplication.
type NewApplication struct {
	Name      string
	Kind      string
	Status    string // default active
	LogoURL   string
	LaunchURL string
	Roles     []AppRole
	Seats     int // 0: unlimited
}

// AppPatch changes the fields that are set. Roles replaces the role list;
// a role dropped from it is removed from every assignment.
type AppPatch struct {
	Name      *string
	Status    *string
	LogoURL   *string
	LaunchURL *string
	Roles     *[]AppRole
	Seats     *int
}

var roleNameOK = func(s string) bool {
	return s != "" && len(s) <= 100 && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r == 0x7f })
}

func validateApp(a *Application) error {
	var errs []error
	if n := strings.TrimSpace(a.Name); n == "" || utf8.RuneCountInString(n) > 200 {
		errs = append(errs, errkind.Field("name", "is required, at most 200 characters"))
	}
	if !slices.Contains(kinds, a.Kind) {
		errs = append(errs, errkind.Field("kind", "must be saml, oidc, scim, bookmark or delegated_auth"))
	}
	if a.Status != AppActive && a.Status != AppInactive {
		errs = append(errs, errkind.Field("status", "must be active or inactive"))
	}
	if a.LogoURL != "" {
		if u, err := url.Parse(a.LogoURL); err != nil || u.Scheme != "https" || u.Host == "" || len(a.LogoURL) > 2048 {
			errs = append(errs, errkind.Field("logo_url", "must be an https URL"))
		}
	}
	if a.LaunchURL != "" {
		// Only web addresses: a javascript: or data: URL on a portal tile
		// would run in the portal's origin.
		if u, err := url.Parse(a.LaunchURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(a.LaunchURL) > 2048 {
			errs = append(errs, errkind.Field("launch_url", "must be an http or https URL"))
		}
	}
	if a.Seats < 0 || a.Seats > 10_000_000 {
		errs = append(errs, errkind.Field("seats", "must be between 0 (unlimited) and 10000000"))
	}
	if len(a.Roles) > 200 {
		errs = append(errs, errkind.Field("roles", "at most 200 roles"))
	}
	seen := map[string]bool{}
	for i, r := range a.Roles {
		f := fmt.Sprintf("roles.%d", i)
		switch {
		case !roleNameOK(r.Name):
			errs = append(errs, errkind.Field(f+".name", "must be 1 to 100 visible characters without spaces"))
		case seen[r.Name]:
			errs = append(errs, errkind.Field(f+".name", "is listed twice"))
		case utf8.RuneCountInString(r.Description) > 500:
			errs = append(errs, errkind.Field(f+".description", "must be at most 500 characters"))
		}
		seen[r.Name] = true
	}
	return errors.Join(errs...)
}

// CreateApplication adds an application.
func (s *Service) CreateApplication(ctx context.Context, sc tenant.Scope, in NewApplication) (*Application, error) {
	if !sc.TenantWide() {
		return nil, errOrgScoped
	}
	if in.Status == "" {
		in.Status = AppActive
	}
	now := s.Now()
	a := &Application{Tenant: sc.Tenant, ID: AppID(id.New("app", now)), Name: strings.TrimSpace(in.Name), Kind: in.Kind,
		Status: in.Status, LogoURL: in.LogoURL, LaunchURL: in.LaunchURL, Roles: in.Roles, Seats: in.Seats, Version: 1, Created: now, Updated: now}
	if err := validateApp(a); err != nil {
		return nil, err
	}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.CreateApplication(ctx, a); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "application.created", "application", string(a.ID),
			map[string]any{"name": a.Name, "kind": a.Kind, "seats": a.Seats}))
	})
	if err != nil {
		return nil, fmt.Errorf("create application: %w", err)
	}
	return a, nil
}

// Application returns an application. Applications are tenant-level
// configuration every scope may read.
func (s *Service) Application(ctx context.Context, sc tenant.Scope, app AppID) (*Application, error) {
	return s.Store.Application(ctx, sc.Tenant, app)
}

// ListApplications pages applications.
func (s *Service) ListApplications(ctx context.Context, sc tenant.Scope, q AppQuery) (page.Of[Application], error) {
	if err := q.Normalize(AppSorts...); err != nil {
		return page.Of[Application]{}, err
	}
	return s.Store.ListApplications(ctx, sc.Tenant, q)
}

// UpdateApplication applies p; ifVersion, when non-zero, must match.
func (s *Service) UpdateApplication(ctx context.Context, sc tenant.Scope, app AppID, p AppPatch, ifVersion int64) (*Application, error) {
	if !sc.TenantWide() {
		return nil, errOrgScoped
	}
	var out *Application
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var changed []string
		var dropped []string
		var beforeStatus string
		var beforeSeats int
		var err error
		out, err = s.Store.UpdateApplication(ctx, sc.Tenant, app, func(a *Application) error {
			if err := errkind.CheckVersion(a.Version, ifVersion); err != nil {
				return err
			}
			beforeStatus, beforeSeats = a.Status, a.Seats
			set := func(name string, cond bool, apply func()) {
				if cond {
					apply()
					changed = append(changed, name)
				}
			}
			set("name", p.Name != nil && strings.TrimSpace(*p.Name) != a.Name, func() { a.Name = strings.TrimSpace(*p.Name) })
			set("status", p.Status != nil && *p.Status != a.Status, func() { a.Status = *p.Status })
			set("logo_url", p.LogoURL != nil && *p.LogoURL != a.LogoURL, func() { a.LogoURL = *p.LogoURL })
			set("launch_url", p.LaunchURL != nil && *p.LaunchURL != a.LaunchURL, func() { a.LaunchURL = *p.LaunchURL })
			set("seats", p.Seats != nil && *p.Seats != a.Seats, func() { a.Seats = *p.Seats })
			if p.Roles != nil && !slices.Equal(*p.Roles, a.Roles) {
				for _, r := range a.Roles {
					if !slices.ContainsFunc(*p.Roles, func(n AppRole) bool { return n.Name == r.Name }) {
						dropped = append(dropped, r.Name)
					}
				}
				a.Roles = *p.Roles
				changed = append(changed, "roles")
			}
			if err := validateApp(a); err != nil || len(changed) == 0 {
				return err
			}
			a.Version++
			a.Updated = s.Now()
			return nil
		})
		if err != nil || len(changed) == 0 {
			return err
		}
		for _, r := range dropped {
			if err := s.Store.DropAppRole(ctx, sc.Tenant, app, r); err != nil {
				return err
			}
		}
		if out.Status != beforeStatus || len(dropped) > 0 {
			us, err := s.appUsers(ctx, sc.Tenant, app)
			if err != nil {
				return err
			}
			if err := s.Refresh(ctx, sc.Tenant, us...); err != nil {
				return err
			}
		}
		if out.Seats != 0 && out.Seats != beforeSeats {
			used, err := s.Store.SeatsUsed(ctx, sc.Tenant, app)
			if err != nil {
				return err
			}
			if used > out.Seats {
				return &SeatsError{App: app, Name: out.Name, Seats: out.Seats, Needed: used}
			}
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), out.Updated, "application.updated", "application", string(app),
			map[string]any{"changed": changed, "roles_removed": dropped}))
	})
	if err != nil {
		return nil, fmt.Errorf("update application %s: %w", app, err)
	}
	return out, nil
}

// DeleteApplication removes an application and its assignments; everyone's
// access to it ends now (their intervals stay as history).
func (s *Service) DeleteApplication(ctx context.Context, sc tenant.Scope, app AppID) error {
	if !sc.TenantWide() {
		return errOrgScoped
	}
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		us, err := s.appUsers(ctx, sc.Tenant, app)
		if err != nil {
			return err
		}
		if err := s.Store.DeleteApplication(ctx, sc.Tenant, app); err != nil {
			return fmt.Errorf("delete application %s: %w", app, err)
		}
		if err := s.Refresh(ctx, sc.Tenant, us...); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "application.deleted", "application", string(app), nil))
	})
}

// SeatsOf reports an application's seat use.
func (s *Service) SeatsOf(ctx context.Context, sc tenant.Scope, app AppID) (Seats, error) {
	a, err := s.Store.Application(ctx, sc.Tenant, app)
	if err != nil {
		return Seats{}, err
	}
	used, err := s.Store.SeatsUsed(ctx, sc.Tenant, app)
	if err != nil {
		return Seats{}, err
	}
	out := Seats{Licensed: a.Seats, Used: used, Remaining: -1}
	if a.Seats > 0 {
		out.Remaining = max(a.Seats-used, 0)
	}
	return out, nil
}

// NewAssignment is the input to Assign.
type NewAssignment struct {
	Principal Principal
	Roles     []string
}

// checkPrincipal makes sure the principal exists and is within sc.
func (s *Service) checkPrincipal(ctx context.Context, sc tenant.Scope, p Principal) error {
	bad := errkind.Field("principal_id", "no such "+strings.ReplaceAll(p.Type, "_", " "))
	var err error
	switch p.Type {
	case PrincipalUser:
		var u *user.User
		if u, err = s.Store.User(ctx, sc.Tenant, user.ID(p.ID)); err == nil && !sc.Allows(u.Org) {
			return bad
		}
	case PrincipalGroup:
		var g *group.Group
		if g, err = s.Store.Group(ctx, sc.Tenant, group.ID(p.ID)); err == nil && !sc.Allows(g.Org) {
			return bad
		}
	case PrincipalBusinessRole:
		if !sc.TenantWide() {
			return errOrgScoped
		}
		_, err = s.Store.BusinessRole(ctx, sc.Tenant, RoleID(p.ID))
	default:
		return errkind.Field("principal_type", "must be user, group or business_role")
	}
	if errors.Is(err, errkind.NotFound) {
		return bad
	}
	return err
}

func checkRoles(a *Application, roles []string) error {
	var errs []error
	for i, r := range roles {
		if !a.HasRole(r) {
			errs = append(errs, errkind.Field(fmt.Sprintf("roles.%d", i), "is not a role of this application"))
		} else if slices.Index(roles, r) != i {
			errs = append(errs, errkind.Field(fmt.Sprintf("roles.%d", i), "is listed twice"))
		}
	}
	return errors.Join(errs...)
}

// Assign gives a principal access to an application.
func (s *Service) Assign(ctx context.Context, sc tenant.Scope, app AppID, in NewAssignment) (*Assignment, error) {
	now := s.Now()
	as := &Assignment{Tenant: sc.Tenant, ID: AssignmentID(id.New("asg", now)), App: app, Principal: in.Principal,
		Roles: in.Roles, Created: now, Updated: now}
	if as.Roles == nil {
		as.Roles = []string{}
	}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		a, err := s.lockedApplication(ctx, sc.Tenant, app)
		if err != nil {
			return err
		}
		if err := errors.Join(s.checkPrincipal(ctx, sc, in.Principal), checkRoles(a, as.Roles)); err != nil {
			return err
		}
		if err := s.Store.CreateAssignment(ctx, as); err != nil {
			return err
		}
		if err := s.refreshPrincipal(ctx, sc.Tenant, in.Principal); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "assignment.created", "application", string(app),
			map[string]any{"assignment_id": as.ID, "principal_type": in.Principal.Type, "principal_id": in.Principal.ID, "roles": as.Roles}))
	})
	if err != nil {
		return nil, fmt.Errorf("assign: %w", err)
	}
	return as, nil
}

// lockedApplication reads an application locked for the transaction, so its
// role list cannot change between the check of an assignment's roles and the
// commit (UpdateApplication takes the same lock).
func (s *Service) lockedApplication(ctx context.Context, t tenant.ID, app AppID) (*Application, error) {
	apps, err := s.Store.LockApplications(ctx, t, []AppID{app})
	if err != nil {
		return nil, err
	}
	if len(apps) == 0 {
		return nil, ErrAppNotFound
	}
	return &apps[0], nil
}

func (s *Service) refreshPrincipal(ctx context.Context, t tenant.ID, p Principal) error {
	us, err := s.reach(ctx, t, p)
	if err != nil {
		return err
	}
	return s.Refresh(ctx, t, us...)
}

// reach expands p to the users it reaches now, with the groups and business
// role it passes through locked (see lockPaths).
func (s *Service) reach(ctx context.Context, t tenant.ID, p Principal) ([]user.ID, error) {
	if err := s.lockPaths(ctx, t, []Principal{p}); err != nil {
		return nil, err
	}
	return s.Store.Reach(ctx, t, p)
}

// appUsers expands an application's assignments to the users they reach,
// with the groups and business roles they pass through locked, plus the
// users who hold access to it now.
func (s *Service) appUsers(ctx context.Context, t tenant.ID, app AppID) ([]user.ID, error) {
	ps, err := s.Store.AppPrincipals(ctx, t, app)
	if err != nil {
		return nil, err
	}
	if err := s.lockPaths(ctx, t, ps); err != nil {
		return nil, err
	}
	return s.Store.AppUsers(ctx, t, app)
}

// lockPaths locks the business roles among ps, then the groups among ps and
// those holding the roles. Changes to memberships and holders take the same
// locks, so none can commit unseen between an expansion that follows and
// the refresh of the users it finds (READ COMMITTED reads afresh after each
// wait).
func (s *Service) lockPaths(ctx context.Context, t tenant.ID, ps []Principal) error {
	var roles []RoleID
	var groups []group.ID
	for _, p := range ps {
		switch p.Type {
		case PrincipalGroup:
			groups = append(groups, group.ID(p.ID))
		case PrincipalBusinessRole:
			roles = append(roles, RoleID(p.ID))
		}
	}
	if err := s.Store.LockBusinessRoles(ctx, t, roles); err != nil {
		return err
	}
	for _, r := range roles {
		hs, err := s.Store.ListHolders(ctx, t, r)
		if err != nil {
			return err
		}
		for _, h := range hs {
			if h.Type == PrincipalGroup {
				groups = append(groups, group.ID(h.ID))
			}
		}
	}
	return s.Store.LockGroups(ctx, t, groups)
}

// assignment returns an assignment of app visible in sc.
func (s *Service) assignment(ctx context.Context, sc tenant.Scope, app AppID, aid AssignmentID) (*Assignment, error) {
	as, err := s.Store.Assignment(ctx, sc.Tenant, aid)
	if err != nil {
		return nil, err
	}
	if as.App != app {
		return nil, ErrAssignmentNotFound
	}
	if err := s.checkPrincipal(ctx, sc, as.Principal); err != nil {
		return nil, ErrAssignmentNotFound
	}
	return as, nil
}

// ListAssignments pages an application's assignments. Organization-scoped
// callers see only those of their own users and groups.
func (s *Service) ListAssignments(ctx context.Context, sc tenant.Scope, app AppID, r page.Request) (page.Of[Assignment], error) {
	if err := r.Normalize("created"); err != nil {
		return page.Of[Assignment]{}, err
	}
	if _, err := s.Store.Application(ctx, sc.Tenant, app); err != nil {
		return page.Of[Assignment]{}, err
	}
	p, err := s.Store.ListAssignments(ctx, sc.Tenant, app, r)
	if err != nil || sc.TenantWide() {
		return p, err
	}
	visible := p.Items[:0]
	for _, as := range p.Items {
		if s.checkPrincipal(ctx, sc, as.Principal) == nil {
			visible = append(visible, as)
		}
	}
	p.Items = visible
	return p, nil
}

// SetAssignmentRoles replaces an assignment's application roles.
func (s *Service) SetAssignmentRoles(ctx context.Context, sc tenant.Scope, app AppID, aid AssignmentID, roles []string) (*Assignment, error) {
	if roles == nil {
		roles = []string{}
	}
	var out *Assignment
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		as, err := s.assignment(ctx, sc, app, aid)
		if err != nil {
			return err
		}
		a, err := s.lockedApplication(ctx, sc.Tenant, app)
		if err != nil {
			return err
		}
		if err := checkRoles(a, roles); err != nil {
			return err
		}
		old := as.Roles
		if out, err = s.Store.UpdateAssignment(ctx, sc.Tenant, aid, func(x *Assignment) error {
			x.Roles, x.Updated = roles, s.Now()
			return nil
		}); err != nil {
			return err
		}
		if err := s.refreshPrincipal(ctx, sc.Tenant, as.Principal); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), out.Updated, "assignment.updated", "application", string(app),
			map[string]any{"assignment_id": aid, "roles": map[string]any{"old": old, "new": roles}}))
	})
	if err != nil {
		return nil, fmt.Errorf("update assignment %s: %w", aid, err)
	}
	return out, nil
}

// Unassign removes an assignment.
func (s *Service) Unassign(ctx context.Context, sc tenant.Scope, app AppID, aid AssignmentID) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		as, err := s.assignment(ctx, sc, app, aid)
		if err != nil {
			return err
		}
		us, err := s.reach(ctx, sc.Tenant, as.Principal)
		if err != nil {
			return err
		}
		if err := s.Store.DeleteAssignment(ctx, sc.Tenant, aid); err != nil {
			return err
		}
		if err := s.Refresh(ctx, sc.Tenant, us...); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "assignment.deleted", "application", string(app),
			map[string]any{"assignment_id": aid, "principal_type": as.Principal.Type, "principal_id": as.Principal.ID}))
	})
}
