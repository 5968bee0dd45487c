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
// other's result. Then every application whose grants change is locked and
// the plan is made again, since what it read of those applications before
// the lock may have changed meanwhile; this repeats until no new application
// turns up. Only then is the time taken and anything written, so seat counts
// are exact and interval times follow the order in which changes commit.
func (s *Service) Refresh(ctx context.Context, t tenant.ID, users ...user.ID) error {
	slices.Sort(users)
	users = slices.Compact(users)
	if err := s.Store.LockUsers(ctx, t, users); err != nil {
		return err
	}
	p, err := s.plan(ctx, t, users)
	if err != nil {
		return err
	}
	locked := map[AppID]*Application{}
	for {
		var more []AppID
		for a := range p.touched {
			if _, ok := locked[a]; !ok {
				more = append(more, a)
			}
		}
		if len(more) == 0 {
			break
		}
		slices.Sort(more)
		apps, err := s.Store.LockApplications(ctx, t, more)
		if err != nil {
			return err
		}
		for _, id := range more {
			locked[id] = nil // deleted since: nothing left to lock
		}
		for i := range apps {
			locked[apps[i].ID] = &apps[i]
		}
		if p, err = s.plan(ctx, t, p.users); err != nil {
			return err
		}
	}
	if len(p.touched) == 0 {
		return nil
	}
	now := s.Now()
	for _, g := range p.closes {
		if err := s.Store.CloseInterval(ctx, t, g, now); err != nil {
			return fmt.Errorf("close access interval: %w", err)
		}
	}
	for _, g := range p.opens {
		if err := s.Store.OpenInterval(ctx, t, g, now); err != nil {
			return fmt.Errorf("open access interval: %w", err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(p.gained)) {
		a := locked[id]
		if a == nil || a.Seats == 0 {
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

// refreshPlan is what Refresh writes: the intervals to open and close, the
// users they belong to, and the applications they touch.
type refreshPlan struct {
	opens, closes []Grant
	users         []user.ID
	touched       map[AppID]bool
	gained        map[AppID]bool
}

// plan compares the grants users should hold now with the intervals they
// hold open.
func (s *Service) plan(ctx context.Context, t tenant.ID, users []user.ID) (refreshPlan, error) {
	p := refreshPlan{touched: map[AppID]bool{}, gained: map[AppID]bool{}}
	for _, u := range users {
		want, err := s.grantsNow(ctx, t, u)
		if err != nil {
			return p, err
		}
		have, err := s.Store.OpenIntervals(ctx, t, u)
		if err != nil {
			return p, err
		}
		changes := len(p.opens) + len(p.closes)
		held := make(map[Grant]bool, len(have))
		for _, g := range have {
			held[g] = true
			if !want[g] {
				p.closes = append(p.closes, g)
				p.touched[g.App] = true
			}
		}
		for g := range want {
			if !held[g] {
				p.opens = append(p.opens, g)
				p.touched[g.App], p.gained[g.App] = true, true
			}
		}
		if len(p.opens)+len(p.closes) > changes {
			p.users = append(p.users, u)
		}
	}
	return p, nil
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
