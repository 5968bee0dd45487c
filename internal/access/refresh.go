package access

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Refresh recomputes the effective access of users and brings their
// intervals up to date, then refuses the change if any application that
// gained a user is now over its seats. Call it inside the transaction of the
// change that may have altered their access.
//
// Concurrency (PostgreSQL runs writers in parallel): the users are locked
// first, so two changes to one user's access run in turn and each sees the
// other's result; then every application whose grants change is locked, in
// id order, before the time is taken and anything is written, so seat counts
// are exact and interval times follow the order in which changes commit.
func (s *Service) Refresh(ctx context.Context, t tenant.ID, users ...user.ID) error {
	slices.Sort(users)
	users = slices.Compact(users)
	if err := s.Store.LockUsers(ctx, t, users); err != nil {
		return err
	}
	var opens, closes []Grant
	touched := map[AppID]bool{}
	gained := map[AppID]bool{}
	for _, u := range users {
		want, err := s.grantsNow(ctx, t, u)
		if err != nil {
			return err
		}
		have, err := s.Store.OpenIntervals(ctx, t, u)
		if err != nil {
			return err
		}
		held := make(map[Grant]bool, len(have))
		for _, g := range have {
			held[g] = true
			if !want[g] {
				closes = append(closes, g)
				touched[g.App] = true
			}
		}
		for g := range want {
			if !held[g] {
				opens = append(opens, g)
				touched[g.App], gained[g.App] = true, true
			}
		}
	}
	if len(touched) == 0 {
		return nil
	}
	apps, err := s.Store.LockApplications(ctx, t, slices.Sorted(maps.Keys(touched)))
	if err != nil {
		return err
	}
	now := s.Now()
	for _, g := range closes {
		if err := s.Store.CloseInterval(ctx, t, g, now); err != nil {
			return fmt.Errorf("close access interval: %w", err)
		}
	}
	for _, g := range opens {
		if err := s.Store.OpenInterval(ctx, t, g, now); err != nil {
			return fmt.Errorf("open access interval: %w", err)
		}
	}
	for _, a := range apps {
		if a.Seats == 0 || !gained[a.ID] {
			continue
		}
		used, err := s.Store.SeatsUsed(ctx, t, a.ID)
		if err != nil {
			return err
		}
		if used > a.Seats {
			return &SeatsError{App: a.ID, Name: a.Name, Seats: a.Seats, Needed: used}
		}
	}
	return nil
}

// grantsNow computes u's effective grants at this moment.
func (s *Service) grantsNow(ctx context.Context, t tenant.ID, uid user.ID) (map[Grant]bool, error) {
	out := map[Grant]bool{}
	u, err := s.Store.User(ctx, t, uid)
	if errors.Is(err, user.ErrNotFound) {
		return out, nil // deleted: every interval closes
	}
	if err != nil {
		return nil, err
	}
	if u.Status != user.Active {
		return out, nil
	}
	if u.Org != "" {
		o, err := s.Store.Organization(ctx, t, u.Org)
		if err != nil {
			return nil, err
		}
		if o.Status != tenant.OrgActive {
			return out, nil
		}
	}
	cands, err := s.Store.Candidates(ctx, t, uid)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		if len(c.Roles) == 0 {
			out[Grant{User: uid, App: c.App, Via: c.Via}] = true
		}
		for _, r := range c.Roles {
			out[Grant{User: uid, App: c.App, Role: r, Via: c.Via}] = true
		}
	}
	return out, nil
}

// Hooks for other domains, wired by the server. Each runs inside the
// transaction of the change it follows.

// UserChanged refreshes a user after a change to their status,
// organization, or their deletion.
func (s *Service) UserChanged(ctx context.Context, t tenant.ID, u user.ID) error {
	return s.Refresh(ctx, t, u)
}

// UsersChanged refreshes several users (a group's members when it is deleted).
func (s *Service) UsersChanged(ctx context.Context, t tenant.ID, us []user.ID) error {
	return s.Refresh(ctx, t, us...)
}

// OrganizationChanged refreshes every user of an organization whose status
// changed.
func (s *Service) OrganizationChanged(ctx context.Context, t tenant.ID, org tenant.OrgID) error {
	us, err := s.Store.OrgUsers(ctx, t, org)
	if err != nil {
		return err
	}
	return s.Refresh(ctx, t, us...)
}
