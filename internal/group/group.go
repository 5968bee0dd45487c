package group

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// ID identifies a group within a tenant.
type ID string

// Errors about groups.
var (
	ErrNotFound        = fmt.Errorf("group %w", errkind.NotFound)
	ErrNameTaken       = fmt.Errorf("group name already in use here: %w", errkind.Conflict)
	ErrExternalIDTaken = fmt.Errorf("group external_id already in use: %w", errkind.Conflict)
	ErrForeignMember   = fmt.Errorf("an organization's group can only hold that organization's users: %w", errkind.Invalid)
)

// Group is a named set of users.
type Group struct {
	Tenant      tenant.ID
	ID          ID
	Name        string
	Description string
	Org         tenant.OrgID // "" for a tenant-wide group
	ExternalID  string
	Members     int // member count, filled by reads
	Version     int64
	Created     time.Time
	Updated     time.Time
}

// Query filters and pages groups.
type Query struct {
	page.Request
	Org        tenant.OrgID
	NamePrefix string
	Member     user.ID // groups this user belongs to
}

// Sorts are the sort fields ListGroups accepts; the first is the default.
var Sorts = []string{"created", "name"}

// Store keeps groups and memberships.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	audit.Appender

	Organization(ctx context.Context, t tenant.ID, id tenant.OrgID) (*tenant.Organization, error)
	User(ctx context.Context, t tenant.ID, id user.ID) (*user.User, error)

	CreateGroup(ctx context.Context, g *Group) error
	Group(ctx context.Context, t tenant.ID, id ID) (*Group, error)
	ListGroups(ctx context.Context, t tenant.ID, q Query) (page.Of[Group], error)
	UpdateGroup(ctx context.Context, t tenant.ID, id ID, fn func(*Group) error) (*Group, error)
	DeleteGroup(ctx context.Context, t tenant.ID, id ID) error
	// AddMember and RemoveMember report whether anything changed.
	AddMember(ctx context.Context, t tenant.ID, g ID, u user.ID, at time.Time) (bool, error)
	RemoveMember(ctx context.Context, t tenant.ID, g ID, u user.ID) (bool, error)
	// RemoveMembershipsOutside drops u from every organization group not of
	// org and returns those groups.
	RemoveMembershipsOutside(ctx context.Context, t tenant.ID, u user.ID, org tenant.OrgID) ([]ID, error)
	MemberIDs(ctx context.Context, t tenant.ID, g ID) ([]user.ID, error)
	// GroupsOfUser returns, in one read, the organization of user u ("" for
	// none) and the groups u belongs to, by id, with their ID, Name and Org
	// only; user.ErrNotFound when there is no such user.
	GroupsOfUser(ctx context.Context, t tenant.ID, u user.ID) (tenant.OrgID, []Group, error)
	// UserOrg returns the organization of user u ("" for none), reading
	// nothing else; user.ErrNotFound when there is no such user.
	UserOrg(ctx context.Context, t tenant.ID, u user.ID) (tenant.OrgID, error)
	// LockGroups locks groups (in id order) for the rest of the transaction,
	// so a change to who is in a group and a change that expands the group
	// to its members (an assignment, a business role) run in turn.
	LockGroups(ctx context.Context, t tenant.ID, ids []ID) error
}

// Service applies the rules for groups.
type Service struct {
	Store Store
	Now   func() time.Time
	// MembersChanged runs inside the transaction of a change to who is in a
	// group (a membership, or the group's deletion), with the users affected,
	// so derived state (effective access) follows. May be nil.
	MembersChanged func(ctx context.Context, t tenant.ID, users []user.ID) error
}

func (s *Service) membersChanged(ctx context.Context, t tenant.ID, users []user.ID) error {
	if s.MembersChanged == nil || len(users) == 0 {
		return nil
	}
	return s.MembersChanged(ctx, t, users)
}

// NewGroup is the input to Create.
type NewGroup struct {
	Name        string
	Description string
	Org         tenant.OrgID
	ExternalID  string
}

// Patch changes the fields that are set.
type Patch struct {
	Name        *string
	Description *string
	ExternalID  *string
}

func validate(name, description, externalID string) error {
	var errs []error
	switch n := strings.TrimSpace(name); {
	case n == "":
		errs = append(errs, errkind.Field("name", "is required"))
	case utf8.RuneCountInString(n) > 200 || strings.ContainsFunc(n, isControl):
		errs = append(errs, errkind.Field("name", "must be at most 200 characters without control characters"))
	}
	if utf8.RuneCountInString(description) > 2000 {
		errs = append(errs, errkind.Field("description", "must be at most 2000 characters"))
	}
	if len(externalID) > 255 || strings.ContainsFunc(externalID, isControl) {
		errs = append(errs, errkind.Field("external_id", "must be at most 255 printable characters"))
	}
	return errors.Join(errs...)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Create adds a group.
func (s *Service) Create(ctx context.Context, sc tenant.Scope, in NewGroup) (*Group, error) {
	if in.Org == "" {
		in.Org = sc.Org
	}
	if !sc.Allows(in.Org) {
		return nil, errkind.Field("organization_id", "is outside the caller's organization")
	}
	if err := validate(in.Name, in.Description, in.ExternalID); err != nil {
		return nil, err
	}
	now := s.Now()
	g := &Group{Tenant: sc.Tenant, ID: ID(id.New("grp", now)), Name: strings.TrimSpace(in.Name), Description: in.Description,
		Org: in.Org, ExternalID: in.ExternalID, Version: 1, Created: now, Updated: now}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if g.Org != "" {
			if _, err := s.Store.Organization(ctx, sc.Tenant, g.Org); errors.Is(err, errkind.NotFound) {
				return errkind.Field("organization_id", "no such organization")
			} else if err != nil {
				return err
			}
		}
		if err := s.Store.CreateGroup(ctx, g); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "group.created", "group", string(g.ID),
			map[string]any{"name": g.Name, "organization_id": g.Org}))
	})
	if err != nil {
		return nil, fmt.Errorf("create group: %w", err)
	}
	return g, nil
}

// Group returns a group visible in sc.
func (s *Service) Group(ctx context.Context, sc tenant.Scope, gid ID) (*Group, error) {
	g, err := s.Store.Group(ctx, sc.Tenant, gid)
	if err != nil {
		return nil, err
	}
	if !sc.Allows(g.Org) {
		return nil, ErrNotFound
	}
	return g, nil
}

// List pages the groups visible in sc.
func (s *Service) List(ctx context.Context, sc tenant.Scope, q Query) (page.Of[Group], error) {
	if err := q.Normalize(Sorts...); err != nil {
		return page.Of[Group]{}, err
	}
	if !sc.TenantWide() {
		if q.Org != "" && q.Org != sc.Org {
			return page.Of[Group]{}, nil
		}
		q.Org = sc.Org
	}
	return s.Store.ListGroups(ctx, sc.Tenant, q)
}

// GroupsOf pages the groups a user visible in sc belongs to.
func (s *Service) GroupsOf(ctx context.Context, sc tenant.Scope, uid user.ID, r page.Request) (page.Of[Group], error) {
	org, err := s.Store.UserOrg(ctx, sc.Tenant, uid)
	if err != nil {
		return page.Of[Group]{}, err
	}
	if !sc.Allows(org) {
		return page.Of[Group]{}, user.ErrNotFound
	}
	q := Query{Request: r, Member: uid}
	if !sc.TenantWide() {
		q.Org = sc.Org
	}
	if err := q.Normalize(Sorts...); err != nil {
		return page.Of[Group]{}, err
	}
	return s.Store.ListGroups(ctx, sc.Tenant, q)
}

// NamesOf lists the names of every group a user visible in sc belongs to,
// for protocol claims and attributes, in GroupsOf's order (every page). It
// is one read: the user's organization (for the scope check) and the names
// come together.
func (s *Service) NamesOf(ctx context.Context, sc tenant.Scope, uid user.ID) ([]string, error) {
	org, gs, err := s.Store.GroupsOfUser(ctx, sc.Tenant, uid)
	if err != nil {
		return nil, err
	}
	if !sc.Allows(org) {
		return nil, user.ErrNotFound
	}
	names := make([]string, 0, len(gs))
	for _, g := range gs {
		if sc.TenantWide() || g.Org == sc.Org {
			names = append(names, g.Name)
		}
	}
	return names, nil
}

// Update applies p; ifVersion, when non-zero, must match.
func (s *Service) Update(ctx context.Context, sc tenant.Scope, gid ID, p Patch, ifVersion int64) (*Group, error) {
	var out *Group
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var changed []string
		var err error
		out, err = s.Store.UpdateGroup(ctx, sc.Tenant, gid, func(g *Group) error {
			if !sc.Allows(g.Org) {
				return ErrNotFound
			}
			if err := errkind.CheckVersion(g.Version, ifVersion); err != nil {
				return err
			}
			for _, f := range []struct {
				name string
				src  *string
				dst  *string
			}{{"name", p.Name, &g.Name}, {"description", p.Description, &g.Description}, {"external_id", p.ExternalID, &g.ExternalID}} {
				if f.src != nil && *f.src != *f.dst {
					*f.dst = *f.src
					changed = append(changed, f.name)
				}
			}
			g.Name = strings.TrimSpace(g.Name)
			if err := validate(g.Name, g.Description, g.ExternalID); err != nil || len(changed) == 0 {
				return err
			}
			g.Version++
			g.Updated = s.Now()
			return nil
		})
		if err != nil || len(changed) == 0 {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), out.Updated, "group.updated", "group", string(gid),
			map[string]any{"changed": changed}))
	})
	if err != nil {
		return nil, fmt.Errorf("update group %s: %w", gid, err)
	}
	return out, nil
}

// Delete removes a group and its memberships.
func (s *Service) Delete(ctx context.Context, sc tenant.Scope, gid ID) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.Group(ctx, sc, gid); err != nil {
			return err
		}
		if err := s.Store.LockGroups(ctx, sc.Tenant, []ID{gid}); err != nil {
			return err
		}
		members, err := s.Store.MemberIDs(ctx, sc.Tenant, gid)
		if err != nil {
			return err
		}
		if err := s.Store.DeleteGroup(ctx, sc.Tenant, gid); err != nil {
			return fmt.Errorf("delete group %s: %w", gid, err)
		}
		if err := s.membersChanged(ctx, sc.Tenant, members); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "group.deleted", "group", string(gid), nil))
	})
}

// AddMember puts a user in a group; adding a member twice changes nothing.
func (s *Service) AddMember(ctx context.Context, sc tenant.Scope, gid ID, uid user.ID) error {
	return s.membership(ctx, sc, gid, uid, "group.member_added", func(ctx context.Context, now time.Time) (bool, error) {
		return s.Store.AddMember(ctx, sc.Tenant, gid, uid, now)
	})
}

// RemoveMember takes a user out of a group; NotFound if they were not in it.
func (s *Service) RemoveMember(ctx context.Context, sc tenant.Scope, gid ID, uid user.ID) error {
	return s.membership(ctx, sc, gid, uid, "group.member_removed", func(ctx context.Context, _ time.Time) (bool, error) {
		removed, err := s.Store.RemoveMember(ctx, sc.Tenant, gid, uid)
		if err == nil && !removed {
			err = fmt.Errorf("membership %w", errkind.NotFound)
		}
		return removed, err
	})
}

func (s *Service) membership(ctx context.Context, sc tenant.Scope, gid ID, uid user.ID, action string,
	fn func(context.Context, time.Time) (bool, error)) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		g, err := s.Group(ctx, sc, gid)
		if err != nil {
			return err
		}
		if err := s.Store.LockGroups(ctx, sc.Tenant, []ID{gid}); err != nil {
			return err
		}
		u, err := s.Store.User(ctx, sc.Tenant, uid)
		if err != nil {
			return err
		}
		if !sc.Allows(u.Org) {
			return user.ErrNotFound
		}
		if g.Org != "" && u.Org != g.Org {
			if action == "group.member_removed" {
				return fmt.Errorf("membership %w", errkind.NotFound) // cannot be a member
			}
			return ErrForeignMember
		}
		now := s.Now()
		changed, err := fn(ctx, now)
		if err != nil || !changed {
			return err
		}
		if err := s.membersChanged(ctx, sc.Tenant, []user.ID{uid}); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, action, "group", string(gid),
			map[string]any{"user_id": uid}))
	})
}

// NameKey is the form in which names must be unique within one scope.
func (g *Group) NameKey() string { return strings.ToLower(g.Name) }

// UserMoved keeps "an organization's group holds only its users" true when a
// user moves to org: it runs in the move's transaction (user.Service.OnOrgMove)
// and records each membership it ends.
func (s *Service) UserMoved(ctx context.Context, t tenant.ID, uid user.ID, org tenant.OrgID) error {
	gids, err := s.Store.RemoveMembershipsOutside(ctx, t, uid, org)
	if err != nil {
		return fmt.Errorf("drop memberships of moved user %s: %w", uid, err)
	}
	now := s.Now()
	for _, g := range gids {
		if err := s.Store.AppendEvent(ctx, audit.New(ctx, string(t), now, "group.member_removed", "group", string(g),
			map[string]any{"user_id": uid, "reason": "user moved to another organization"})); err != nil {
			return err
		}
	}
	return nil
}
