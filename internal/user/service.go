package user

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user/password"
)

// Store keeps users, their passwords and the tenant settings this domain owns.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	audit.Appender

	Organization(ctx context.Context, t tenant.ID, id tenant.OrgID) (*tenant.Organization, error)

	CreateUser(ctx context.Context, u *User) error
	User(ctx context.Context, t tenant.ID, id ID) (*User, error)
	// UserByKey finds a user whose username key or primary email key is key.
	UserByKey(ctx context.Context, t tenant.ID, key string) (*User, error)
	ListUsers(ctx context.Context, t tenant.ID, q Query) (page.Of[User], error)
	UpdateUser(ctx context.Context, t tenant.ID, id ID, fn func(*User) error) (*User, error)
	DeleteUser(ctx context.Context, t tenant.ID, id ID) error

	// PasswordHashes returns the current hash then up to n earlier ones,
	// newest first; ErrNoPassword when there is no current one.
	PasswordHashes(ctx context.Context, t tenant.ID, id ID, n int) ([]string, error)
	// SetPassword makes hash current, moves the previous one into history
	// and keeps at most keep history entries. The user row is not touched:
	// the caller records PasswordChanged through CreateUser or UpdateUser.
	SetPassword(ctx context.Context, t tenant.ID, id ID, hash string, at time.Time, keep int) error
	// UpgradePasswordHash replaces old with new only if old is still current,
	// leaving the change time alone: the password itself did not change.
	UpgradePasswordHash(ctx context.Context, t tenant.ID, id ID, old, new string) error

	// Setting reads the tenant setting key as JSON into dst; false when unset.
	Setting(ctx context.Context, t tenant.ID, key string, dst any) (bool, error)
	PutSetting(ctx context.Context, t tenant.ID, key string, v any) error
}

// Service applies the rules for users.
type Service struct {
	Store    Store
	Now      func() time.Time
	Hasher   *password.Hasher
	Breached *password.Breached // may be nil: no breached list configured
	// OnOrgMove runs inside the transaction that moves a user to another
	// organization, so other domains can keep their invariants (group drops
	// memberships in the old organization's groups). May be nil.
	OnOrgMove func(ctx context.Context, t tenant.ID, u ID, to tenant.OrgID) error
	// AfterChange runs inside the transaction of every change to a user,
	// deletion included, so that derived state (effective access) follows.
	// May be nil.
	AfterChange func(ctx context.Context, t tenant.ID, u ID) error
}

func (s *Service) afterChange(ctx context.Context, t tenant.ID, u ID) error {
	if s.AfterChange == nil {
		return nil
	}
	return s.AfterChange(ctx, t, u)
}

// NewUser is the input to Create.
type NewUser struct {
	Username     string // defaults to the primary email
	Emails       []Email
	GivenName    string
	FamilyName   string
	DisplayName  string // defaults to "Given Family"
	Phone        string
	Locale       string
	TimeZone     string
	Attributes   map[string]any
	ExternalIDs  map[string]string
	Org          tenant.OrgID
	Source       string // default local
	Status       Status // staged or active; default active
	Password     string // optional initial password, checked against the policy
	PasswordHash string // optional imported hash; exclusive with Password
}

// Patch changes the fields that are set (merge semantics).
type Patch struct {
	Username    *string
	Emails      *[]Email
	GivenName   *string
	FamilyName  *string
	DisplayName *string
	Phone       *string
	Locale      *string
	TimeZone    *string
	Org         *tenant.OrgID      // "" moves the user to tenant level
	Attributes  map[string]any     // a nil value removes the attribute
	ExternalIDs map[string]*string // a nil value removes the entry
	// Clear… empty the map before the merge above is applied.
	ClearAttributes  bool
	ClearExternalIDs bool
}

// Create adds a user.
func (s *Service) Create(ctx context.Context, sc tenant.Scope, in NewUser) (*User, error) {
	now := s.Now()
	if in.Org == "" {
		in.Org = sc.Org
	}
	if !sc.Allows(in.Org) {
		return nil, errkind.Field("organization_id", "is outside the caller's organization")
	}
	if in.Source == "" {
		in.Source = SourceLocal
	}
	if in.Status == "" {
		in.Status = Active
	}
	u := &User{
		Tenant: sc.Tenant, ID: ID(id.New("usr", now)), Username: in.Username,
		GivenName: in.GivenName, FamilyName: in.FamilyName, DisplayName: in.DisplayName,
		Phone: in.Phone, Locale: in.Locale, TimeZone: in.TimeZone, Attributes: in.Attributes,
		ExternalIDs: in.ExternalIDs, Org: in.Org, Source: in.Source, Status: in.Status,
		StatusChanged: now, Version: 1, Created: now, Updated: now,
	}
	var errs []error
	var err error
	if u.Emails, err = validateEmails(in.Emails); err != nil {
		errs = append(errs, err)
	}
	if u.Username == "" && len(u.Emails) > 0 {
		u.Username = u.PrimaryEmail().Value
	}
	if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	}
	errs = append(errs, validateUsername(u.Username), validateProfile(u))
	if in.Status != Staged && in.Status != Active {
		errs = append(errs, errkind.Field("status", "must be staged or active"))
	}
	if in.Password != "" && in.PasswordHash != "" {
		errs = append(errs, errkind.Field("password_hash", "give either password or password_hash, not both"))
	}
	if in.PasswordHash != "" {
		if _, err := password.Identify(in.PasswordHash); err != nil {
			errs = append(errs, errkind.Relabel(err, "password_hash"))
		}
	}
	schema, err := s.ProfileSchema(ctx, sc.Tenant)
	if err != nil {
		return nil, err
	}
	if u.Attributes, err = schema.Check(u.Attributes); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	hash := in.PasswordHash
	if hash != "" || in.Password != "" {
		u.PasswordChanged = now
	}
	if in.Password != "" {
		// Hash before the transaction: argon2 takes tens of milliseconds and
		// must not hold the write lock.
		if hash, err = s.checkedHash(ctx, sc.Tenant, in.Password, password.Subject{Username: u.Username, Email: u.PrimaryEmail().Value}, nil); err != nil {
			return nil, err
		}
	}
	err = s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.checkOrg(ctx, sc.Tenant, u.Org); err != nil {
			return err
		}
		if err := s.Store.CreateUser(ctx, u); err != nil {
			return err
		}
		if hash != "" {
			if err := s.Store.SetPassword(ctx, sc.Tenant, u.ID, hash, now, 0); err != nil {
				return err
			}
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "user.created", "user", string(u.ID),
			map[string]any{"username": u.Username, "status": u.Status, "organization_id": u.Org, "password": hash != ""}))
	})
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

func (s *Service) checkOrg(ctx context.Context, t tenant.ID, org tenant.OrgID) error {
	if org == "" {
		return nil
	}
	if _, err := s.Store.Organization(ctx, t, org); errors.Is(err, errkind.NotFound) {
		return errkind.Field("organization_id", "no such organization")
	} else if err != nil {
		return err
	}
	return nil
}

// User returns a user visible in sc.
func (s *Service) User(ctx context.Context, sc tenant.Scope, uid ID) (*User, error) {
	u, err := s.Store.User(ctx, sc.Tenant, uid)
	if err != nil {
		return nil, err
	}
	if !sc.Allows(u.Org) {
		return nil, ErrNotFound
	}
	return u, nil
}

// Exists reports whether a user with this username or primary email exists
// within sc. Admin callers only: it must never be reachable unauthenticated.
func (s *Service) Exists(ctx context.Context, sc tenant.Scope, login string) (bool, error) {
	if strings.TrimSpace(login) == "" {
		return false, errkind.Field("username", "give a username or an email")
	}
	u, err := s.Store.UserByKey(ctx, sc.Tenant, Key(login))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return sc.Allows(u.Org), nil
}

// List pages the users visible in sc.
func (s *Service) List(ctx context.Context, sc tenant.Scope, q Query) (page.Of[User], error) {
	if q.Sort == "" && q.UsernamePrefix != "" {
		// A prefix search is a type-ahead: alphabetical, and served in order
		// from the username index, where creation order would sort every match.
		q.Sort = "username"
	}
	if err := q.Normalize(Sorts...); err != nil {
		return page.Of[User]{}, err
	}
	switch q.Status {
	case "", Staged, Active, Suspended, Deactivated:
	default:
		return page.Of[User]{}, errkind.Field("status", "must be staged, active, suspended or deactivated")
	}
	if !sc.TenantWide() {
		if q.Org != "" && q.Org != sc.Org {
			return page.Of[User]{}, nil
		}
		q.Org = sc.Org
	}
	return s.Store.ListUsers(ctx, sc.Tenant, q)
}

// Update applies p; ifVersion, when non-zero, must match (If-Match).
func (s *Service) Update(ctx context.Context, sc tenant.Scope, uid ID, p Patch, ifVersion int64) (*User, error) {
	if p.Org != nil && !sc.TenantWide() {
		return nil, fmt.Errorf("organization-scoped callers cannot move users between organizations: %w", errkind.Denied)
	}
	schema, err := s.ProfileSchema(ctx, sc.Tenant)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, sc, uid, ifVersion, "user.updated", func(ctx context.Context, u *User) (map[string]any, error) {
		before := *u
		if err := p.applyTo(u); err != nil {
			return nil, err
		}
		var errs []error
		if p.Username != nil {
			errs = append(errs, validateUsername(u.Username))
		}
		if p.Emails != nil {
			u.Emails, err = validateEmails(*p.Emails)
			errs = append(errs, err)
		}
		errs = append(errs, validateProfile(u))
		if u.Attributes, err = schema.Check(u.Attributes); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		if p.Org != nil && *p.Org != before.Org {
			if err := s.checkOrg(ctx, sc.Tenant, u.Org); err != nil {
				return nil, err
			}
			if s.OnOrgMove != nil {
				if err := s.OnOrgMove(ctx, sc.Tenant, uid, u.Org); err != nil {
					return nil, err
				}
			}
		}
		return changedFields(&before, u), nil
	})
}

func (p Patch) applyTo(u *User) error {
	for _, f := range []struct {
		src *string
		dst *string
	}{
		{p.Username, &u.Username}, {p.GivenName, &u.GivenName}, {p.FamilyName, &u.FamilyName},
		{p.DisplayName, &u.DisplayName}, {p.Phone, &u.Phone}, {p.Locale, &u.Locale}, {p.TimeZone, &u.TimeZone},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if p.Org != nil {
		u.Org = *p.Org
	}
	if p.ClearAttributes {
		u.Attributes = map[string]any{}
	}
	if p.ClearExternalIDs {
		u.ExternalIDs = map[string]string{}
	}
	if p.Attributes != nil {
		u.Attributes = maps.Clone(u.Attributes)
		if u.Attributes == nil {
			u.Attributes = map[string]any{}
		}
		for k, v := range p.Attributes {
			if v == nil {
				delete(u.Attributes, k)
			} else {
				u.Attributes[k] = v
			}
		}
	}
	if p.ExternalIDs != nil {
		u.ExternalIDs = maps.Clone(u.ExternalIDs)
		if u.ExternalIDs == nil {
			u.ExternalIDs = map[string]string{}
		}
		for k, v := range p.ExternalIDs {
			if v == nil {
				delete(u.ExternalIDs, k)
			} else {
				u.ExternalIDs[k] = *v
			}
		}
	}
	return nil
}

// changedFields names what differs between two versions of a user, for the
// audit event: field names only, values never (they may be personal data).
func changedFields(a, b *User) map[string]any {
	var names []string
	add := func(name string, changed bool) {
		if changed {
			names = append(names, name)
		}
	}
	add("username", a.Username != b.Username)
	add("emails", fmt.Sprint(a.Emails) != fmt.Sprint(b.Emails))
	add("given_name", a.GivenName != b.GivenName)
	add("family_name", a.FamilyName != b.FamilyName)
	add("display_name", a.DisplayName != b.DisplayName)
	add("phone", a.Phone != b.Phone)
	add("locale", a.Locale != b.Locale)
	add("time_zone", a.TimeZone != b.TimeZone)
	add("organization_id", a.Org != b.Org)
	add("attributes", !sameJSON(a.Attributes, b.Attributes))
	add("external_ids", !sameJSON(a.ExternalIDs, b.ExternalIDs))
	if len(names) == 0 {
		return nil
	}
	return map[string]any{"changed": names}
}

// sameJSON compares two values as the API shows them: JSON sorts map keys
// and prints 1000000 the same whether it is an int64 or a float64.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// change runs fn on the user inside a transaction; fn returns the audit
// summary, nil meaning nothing changed (no write, no event, same version).
func (s *Service) change(ctx context.Context, sc tenant.Scope, uid ID, ifVersion int64, action string,
	fn func(context.Context, *User) (map[string]any, error)) (*User, error) {
	var out *User
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var details map[string]any
		var err error
		out, err = s.Store.UpdateUser(ctx, sc.Tenant, uid, func(u *User) error {
			if !sc.Allows(u.Org) {
				return ErrNotFound
			}
			if err := errkind.CheckVersion(u.Version, ifVersion); err != nil {
				return err
			}
			if details, err = fn(ctx, u); err != nil || details == nil {
				return err
			}
			u.Version++
			u.Updated = s.Now()
			return nil
		})
		if err != nil || details == nil {
			return err
		}
		if err := s.afterChange(ctx, sc.Tenant, uid); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), out.Updated, action, "user", string(uid), details))
	})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", strings.ReplaceAll(action, ".", " "), uid, err)
	}
	return out, nil
}

// Transition runs a lifecycle operation.
func (s *Service) Transition(ctx context.Context, sc tenant.Scope, uid ID, op Op, ifVersion int64) (*User, error) {
	return s.change(ctx, sc, uid, ifVersion, "user."+string(op), func(_ context.Context, u *User) (map[string]any, error) {
		before := *u
		if err := op.apply(u); err != nil {
			return nil, err
		}
		if u.Status != before.Status {
			u.StatusChanged = s.Now()
		}
		return map[string]any{"status": diffValue(before.Status, u.Status), "locked": diffValue(before.Locked, u.Locked)}, nil
	})
}

func diffValue[T comparable](old, new T) any {
	if old == new {
		return old
	}
	return map[string]T{"old": old, "new": new}
}

// Delete removes a deactivated user. Deactivate first: deletion is final and
// must not be one mistaken call away for an active account.
func (s *Service) Delete(ctx context.Context, sc tenant.Scope, uid ID) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.Store.User(ctx, sc.Tenant, uid)
		if err != nil {
			return err
		}
		if !sc.Allows(u.Org) {
			return ErrNotFound
		}
		if u.Status != Deactivated {
			return refuse("deactivate the user before deleting it")
		}
		if err := s.Store.DeleteUser(ctx, sc.Tenant, uid); err != nil {
			return fmt.Errorf("delete user %s: %w", uid, err)
		}
		if err := s.afterChange(ctx, sc.Tenant, uid); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "user.deleted", "user", string(uid),
			map[string]any{"username": u.Username}))
	})
}

// Settings keys owned by this domain. SettingProfileSchema is exported for
// domains that read the schema inside their own transactions.
const (
	SettingProfileSchema  = "profile_schema"
	settingPasswordPolicy = "password_policy"
)

// ProfileSchema returns the tenant's profile schema (empty when unset).
func (s *Service) ProfileSchema(ctx context.Context, t tenant.ID) (Schema, error) {
	var sch Schema
	_, err := s.Store.Setting(ctx, t, SettingProfileSchema, &sch)
	return sch, err
}

// SetProfileSchema replaces the profile schema. Users keep the attributes they
// have; each later change to a user must satisfy the new schema.
func (s *Service) SetProfileSchema(ctx context.Context, sc tenant.Scope, sch Schema) error {
	if !sc.TenantWide() {
		return fmt.Errorf("organization-scoped callers cannot change the profile schema: %w", errkind.Denied)
	}
	if err := sch.Validate(); err != nil {
		return err
	}
	return s.putSetting(ctx, sc.Tenant, SettingProfileSchema, sch, "tenant.profile_schema_updated")
}

func (s *Service) putSetting(ctx context.Context, t tenant.ID, key string, v any, action string) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.PutSetting(ctx, t, key, v); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), s.Now(), action, "tenant", string(t), map[string]any{"setting": v}))
	})
}
