package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
)

func validateRole(name, description string) error {
	var errs []error
	if n := strings.TrimSpace(name); n == "" || utf8.RuneCountInString(n) > 200 {
		errs = append(errs, errkind.Field("name", "is required, at most 200 characters"))
	}
	if utf8.RuneCountInString(description) > 2000 {
		errs = append(errs, errkind.Field("description", "must be at most 2000 characters"))
	}
	return errors.Join(errs...)
}

// CreateBusinessRole adds a business role.
func (s *Service) CreateBusinessRole(ctx context.Context, sc tenant.Scope, name, description string) (*BusinessRole, error) {
	if !sc.TenantWide() {
		return nil, errOrgScoped
	}
	if err := validateRole(name, description); err != nil {
		return nil, err
	}
	now := s.Now()
	r := &BusinessRole{Tenant: sc.Tenant, ID: RoleID(id.New("rol", now)), Name: strings.TrimSpace(name), Description: description,
		Version: 1, Created: now, Updated: now}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.CreateBusinessRole(ctx, r); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "business_role.created", "business_role", string(r.ID),
			map[string]any{"name": r.Name}))
	})
	if err != nil {
		return nil, fmt.Errorf("create business role: %w", err)
	}
	return r, nil
}

// BusinessRole returns a business role.
func (s *Service) BusinessRole(ctx context.Context, sc tenant.Scope, rid RoleID) (*BusinessRole, error) {
	return s.Store.BusinessRole(ctx, sc.Tenant, rid)
}

// ListBusinessRoles pages business roles.
func (s *Service) ListBusinessRoles(ctx context.Context, sc tenant.Scope, q RoleQuery) (page.Of[BusinessRole], error) {
	if err := q.Normalize(RoleSorts...); err != nil {
		return page.Of[BusinessRole]{}, err
	}
	return s.Store.ListBusinessRoles(ctx, sc.Tenant, q)
}

// UpdateBusinessRole renames or redescribes a role.
func (s *Service) UpdateBusinessRole(ctx context.Context, sc tenant.Scope, rid RoleID, name, description *string, ifVersion int64) (*BusinessRole, error) {
	if !sc.TenantWide() {
		return nil, errOrgScoped
	}
	var out *BusinessRole
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var changed []string
		var err error
		out, err = s.Store.UpdateBusinessRole(ctx, sc.Tenant, rid, func(r *BusinessRole) error {
			if err := errkind.CheckVersion(r.Version, ifVersion); err != nil {
				return err
			}
			if name != nil && strings.TrimSpace(*name) != r.Name {
				r.Name = strings.TrimSpace(*name)
				changed = append(changed, "name")
			}
			if description != nil && *description != r.Description {
				r.Description = *description
				changed = append(changed, "description")
			}
			if err := validateRole(r.Name, r.Description); err != nil || len(changed) == 0 {
				return err
			}
			r.Version++
			r.Updated = s.Now()
			return nil
		})
		if err != nil || len(changed) == 0 {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), out.Updated, "business_role.updated", "business_role", string(rid),
			map[string]any{"changed": changed}))
	})
	if err != nil {
		return nil, fmt.Errorf("update business role %s: %w", rid, err)
	}
	return out, nil
}

// DeleteBusinessRole removes a role, its holders and its assignments.
func (s *Service) DeleteBusinessRole(ctx context.Context, sc tenant.Scope, rid RoleID) error {
	if !sc.TenantWide() {
		return errOrgScoped
	}
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		us, err := s.reach(ctx, sc.Tenant, Principal{Type: PrincipalBusinessRole, ID: string(rid)})
		if err != nil {
			return err
		}
		if err := s.Store.DeleteBusinessRole(ctx, sc.Tenant, rid); err != nil {
			return fmt.Errorf("delete business role %s: %w", rid, err)
		}
		if err := s.Refresh(ctx, sc.Tenant, us...); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "business_role.deleted", "business_role", string(rid), nil))
	})
}

// Holders lists who holds a role.
func (s *Service) Holders(ctx context.Context, sc tenant.Scope, rid RoleID) ([]Holder, error) {
	if _, err := s.Store.BusinessRole(ctx, sc.Tenant, rid); err != nil {
		return nil, err
	}
	hs, err := s.Store.ListHolders(ctx, sc.Tenant, rid)
	if err != nil || sc.TenantWide() {
		return hs, err
	}
	visible := hs[:0]
	for _, h := range hs {
		if s.checkHolder(ctx, sc, h) == nil {
			visible = append(visible, h)
		}
	}
	return visible, nil
}

func (s *Service) checkHolder(ctx context.Context, sc tenant.Scope, h Holder) error {
	if h.Type != PrincipalUser && h.Type != PrincipalGroup {
		return errkind.Field("holder_type", "must be user or group")
	}
	if err := s.checkPrincipal(ctx, sc, Principal{Type: h.Type, ID: h.ID}); err != nil {
		return errkind.Relabel(err, "holder_id")
	}
	return nil
}

// AddHolder gives a user or a group a business role; adding twice changes
// nothing.
func (s *Service) AddHolder(ctx context.Context, sc tenant.Scope, rid RoleID, h Holder) error {
	return s.holding(ctx, sc, rid, h, "business_role.holder_added", func(ctx context.Context) (bool, error) {
		h.Created = s.Now()
		return s.Store.AddHolder(ctx, sc.Tenant, rid, h)
	})
}

// RemoveHolder takes a business role away; NotFound if it was not held.
func (s *Service) RemoveHolder(ctx context.Context, sc tenant.Scope, rid RoleID, h Holder) error {
	return s.holding(ctx, sc, rid, h, "business_role.holder_removed", func(ctx context.Context) (bool, error) {
		removed, err := s.Store.RemoveHolder(ctx, sc.Tenant, rid, h)
		if err == nil && !removed {
			err = ErrHolderNotFound
		}
		return removed, err
	})
}

func (s *Service) holding(ctx context.Context, sc tenant.Scope, rid RoleID, h Holder, action string, fn func(context.Context) (bool, error)) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.Store.BusinessRole(ctx, sc.Tenant, rid); err != nil {
			return err
		}
		if err := s.checkHolder(ctx, sc, h); err != nil {
			if action == "business_role.holder_removed" && errors.Is(err, errkind.Invalid) {
				return ErrHolderNotFound // no such user or group cannot hold the role
			}
			return err
		}
		// Reach before and after: removing a group holder ends access for
		// its members, adding one starts it. The role is locked first, as
		// an assignment to it does, then the holder.
		if err := s.Store.LockBusinessRoles(ctx, sc.Tenant, []RoleID{rid}); err != nil {
			return err
		}
		us, err := s.reach(ctx, sc.Tenant, Principal{Type: h.Type, ID: h.ID})
		if err != nil {
			return err
		}
		changed, err := fn(ctx)
		if err != nil || !changed {
			return err
		}
		if err := s.Refresh(ctx, sc.Tenant, us...); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), action, "business_role", string(rid),
			map[string]any{"holder_type": h.Type, "holder_id": h.ID}))
	})
}
