package user

import (
	"context"
	"errors"
	"fmt"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user/password"
)

// PasswordPolicy returns the tenant's policy, or the default when unset.
func (s *Service) PasswordPolicy(ctx context.Context, t tenant.ID) (password.Policy, error) {
	p := password.DefaultPolicy()
	_, err := s.Store.Setting(ctx, t, settingPasswordPolicy, &p)
	return p, err
}

// SetPasswordPolicy replaces the tenant's password policy.
func (s *Service) SetPasswordPolicy(ctx context.Context, sc tenant.Scope, p password.Policy) error {
	if !sc.TenantWide() {
		return fmt.Errorf("organization-scoped callers cannot change the password policy: %w", errkind.Denied)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return s.putSetting(ctx, sc.Tenant, settingPasswordPolicy, p, "tenant.password_policy_updated")
}

// ValidatePassword returns every rule plain breaks under the tenant policy;
// with a user id it also checks the user's own details. It never compares
// with the user's current or earlier passwords: that would let a caller test
// guesses silently (history is enforced when the password is set).
func (s *Service) ValidatePassword(ctx context.Context, sc tenant.Scope, plain string, uid ID) ([]password.Violation, error) {
	pol, err := s.PasswordPolicy(ctx, sc.Tenant)
	if err != nil {
		return nil, err
	}
	var who password.Subject
	if uid != "" {
		u, err := s.User(ctx, sc, uid)
		if err != nil {
			return nil, err
		}
		who = password.Subject{Username: u.Username, Email: u.PrimaryEmail().Value}
	}
	return pol.Check(plain, who, s.Breached), nil
}

func reusedViolation(n int) password.Violation {
	return password.Violation{Code: "reused", Message: fmt.Sprintf("must differ from the last %d passwords", n)}
}

func (s *Service) reused(ctx context.Context, t tenant.ID, uid ID, plain string, n int) (bool, error) {
	hashes, err := s.Store.PasswordHashes(ctx, t, uid, n)
	if errors.Is(err, ErrNoPassword) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The current password counts as one of the last n.
	if len(hashes) > n {
		hashes = hashes[:n]
	}
	return s.Hasher.Reused(ctx, plain, hashes)
}

// checkedHash enforces the policy (and history, when uid is set) and hashes.
func (s *Service) checkedHash(ctx context.Context, t tenant.ID, plain string, who password.Subject, uid *ID) (string, error) {
	pol, err := s.PasswordPolicy(ctx, t)
	if err != nil {
		return "", err
	}
	vs := pol.Check(plain, who, s.Breached)
	if uid != nil && len(vs) == 0 && pol.HistoryCount > 0 {
		reused, err := s.reused(ctx, t, *uid, plain, pol.HistoryCount)
		if err != nil {
			return "", err
		}
		if reused {
			vs = append(vs, reusedViolation(pol.HistoryCount))
		}
	}
	if len(vs) > 0 {
		return "", password.ViolationsError(vs)
	}
	return s.Hasher.Hash(ctx, plain)
}

// SetPassword sets a new password after checking policy and history.
func (s *Service) SetPassword(ctx context.Context, sc tenant.Scope, uid ID, plain string) (*User, error) {
	u, err := s.User(ctx, sc, uid)
	if err != nil {
		return nil, err
	}
	hash, err := s.checkedHash(ctx, sc.Tenant, plain, password.Subject{Username: u.Username, Email: u.PrimaryEmail().Value}, &uid)
	if err != nil {
		return nil, err
	}
	return s.storePassword(ctx, sc, uid, hash, "user.password_set")
}

// ImportPasswordHash sets a hash made elsewhere (bcrypt, PBKDF2, SSHA, ...).
// It is upgraded to the current algorithm at the first successful check.
func (s *Service) ImportPasswordHash(ctx context.Context, sc tenant.Scope, uid ID, encoded string) (*User, error) {
	if _, err := password.Identify(encoded); err != nil {
		return nil, err
	}
	return s.storePassword(ctx, sc, uid, encoded, "user.password_imported")
}

func (s *Service) storePassword(ctx context.Context, sc tenant.Scope, uid ID, hash, action string) (*User, error) {
	pol, err := s.PasswordPolicy(ctx, sc.Tenant)
	if err != nil {
		return nil, err
	}
	// password_changed_at is part of the user's representation, so the
	// change goes through change(): new version, new ETag, one audit event.
	return s.change(ctx, sc, uid, 0, action, func(ctx context.Context, u *User) (map[string]any, error) {
		now := s.Now()
		if err := s.Store.SetPassword(ctx, sc.Tenant, uid, hash, now, pol.HistoryCount); err != nil {
			return nil, err
		}
		u.PasswordChanged = now
		return map[string]any{"password_changed": true}, nil
	})
}

// CheckPassword verifies a login (username or primary email) and password.
// Unknown users, wrong passwords and users who may not sign in all return
// ErrBadCredentials after the same work, so neither the answer nor its timing
// tells whether the account exists. A right password stored in a legacy
// format is re-hashed with the current one.
func (s *Service) CheckPassword(ctx context.Context, t tenant.ID, login, plain string) (*User, error) {
	u, err := s.Store.UserByKey(ctx, t, Key(login))
	if errors.Is(err, ErrNotFound) {
		s.Hasher.Dummy(ctx, plain)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	hashes, err := s.Store.PasswordHashes(ctx, t, u.ID, 0)
	if errors.Is(err, ErrNoPassword) {
		s.Hasher.Dummy(ctx, plain)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, upgraded, err := s.Hasher.Verify(ctx, hashes[0], plain)
	if err != nil {
		return nil, fmt.Errorf("verify password of %s: %w", u.ID, err)
	}
	if !ok || u.Status != Active || u.Locked {
		return nil, ErrBadCredentials
	}
	if upgraded != "" {
		if err := s.Store.UpgradePasswordHash(ctx, t, u.ID, hashes[0], upgraded); err != nil {
			return nil, fmt.Errorf("upgrade password hash of %s: %w", u.ID, err)
		}
	}
	return u, nil
}
