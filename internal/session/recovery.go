package session

import (
	"context"
	"errors"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// How long links sent by mail stay valid.
const (
	ResetTTL  = 30 * time.Minute
	UnlockTTL = time.Hour
	VerifyTTL = 24 * time.Hour
)

// Link is a single-use link's secret and where to send it.
type Link struct {
	User    *user.User
	Purpose string
	Token   string
	Email   string
	TTL     time.Duration
}

// RequestRecovery answers "forgot password" and "locked out": for an
// account that exists, may sign in and has a primary email, it returns an
// unlock link when the account is locked, else a password reset link (older
// links of that kind stop working). For anything else it returns nil, nil:
// the caller must answer the same either way and send mail without waiting,
// so that neither words nor timing tell whether the account exists.
func (s *Service) RequestRecovery(ctx context.Context, t tenant.ID, login string) (*Link, error) {
	u, err := s.Store.UserByKey(ctx, t, user.Key(login))
	if errors.Is(err, user.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	email := u.PrimaryEmail().Value
	if email == "" || u.Status != user.Active {
		return nil, nil
	}
	l := &Link{User: u, Purpose: PurposePasswordReset, Email: email, TTL: ResetTTL}
	if u.Locked {
		l.Purpose, l.TTL = PurposeUnlock, UnlockTTL
	}
	err = s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.DeleteUserSignInTokens(ctx, t, u.ID, l.Purpose); err != nil {
			return err
		}
		var err error
		if l.Token, err = s.IssueToken(ctx, t, l.Purpose, u.ID, nil, l.TTL); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(withUser(ctx, u), string(t), s.Now(), "session.recovery_requested", "user", string(u.ID),
			map[string]any{"kind": l.Purpose}))
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// LinkUser returns the user a live link of purpose belongs to, without
// using the link up (to show the page it opens).
func (s *Service) LinkUser(ctx context.Context, t tenant.ID, purpose, token string) (*user.User, error) {
	tok, err := s.PeekToken(ctx, t, purpose, token)
	if err != nil {
		return nil, err
	}
	return s.Store.User(ctx, t, tok.User)
}

// ResetPassword sets a new password through a reset link. The tenant's
// policy and history apply; a refused password leaves the link usable. A
// reset also unlocks the account, clears its failures, and ends all its
// sessions: whoever knew the old password is out.
func (s *Service) ResetPassword(ctx context.Context, t tenant.ID, token, newPassword string) (*user.User, error) {
	var out *user.User
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		tok, err := s.ConsumeToken(ctx, t, PurposePasswordReset, token)
		if err != nil {
			return err
		}
		u, err := s.Store.User(ctx, t, tok.User)
		if err != nil {
			return err
		}
		ctx = withUser(ctx, u)
		sc := tenant.Scope{Tenant: t}
		if out, err = s.Users.SetPassword(ctx, sc, u.ID, newPassword); err != nil {
			return err
		}
		if out.Locked {
			if out, err = s.Users.Transition(ctx, sc, u.ID, user.OpUnlock, 0); err != nil {
				return err
			}
		}
		if err := s.Store.ClearFailures(ctx, t, s.subject(u, "")); err != nil {
			return err
		}
		_, err = s.revokeAll(ctx, t, u.ID, "", "password reset")
		return err
	})
	return out, err
}

// Unlock lifts a lockout through an unlock link.
func (s *Service) Unlock(ctx context.Context, t tenant.ID, token string) (*user.User, error) {
	var out *user.User
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		tok, err := s.ConsumeToken(ctx, t, PurposeUnlock, token)
		if err != nil {
			return err
		}
		u, err := s.Store.User(ctx, t, tok.User)
		if err != nil {
			return err
		}
		out = u
		if u.Locked {
			if out, err = s.Users.Transition(withUser(ctx, u), tenant.Scope{Tenant: t}, u.ID, user.OpUnlock, 0); err != nil {
				return err
			}
		}
		return s.Store.ClearFailures(ctx, t, s.subject(u, ""))
	})
	return out, err
}

// RequestEmailVerification returns a link that proves u owns their primary
// email, or nil when it is already verified or there is none.
func (s *Service) RequestEmailVerification(ctx context.Context, t tenant.ID, uid user.ID) (*Link, error) {
	u, err := s.Store.User(ctx, t, uid)
	if err != nil {
		return nil, err
	}
	e := u.PrimaryEmail()
	if e.Value == "" || e.Verified {
		return nil, nil
	}
	l := &Link{User: u, Purpose: PurposeVerifyEmail, Email: e.Value, TTL: VerifyTTL}
	err = s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.DeleteUserSignInTokens(ctx, t, u.ID, l.Purpose); err != nil {
			return err
		}
		l.Token, err = s.IssueToken(ctx, t, l.Purpose, u.ID, map[string]string{"email": e.Value}, l.TTL)
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// VerifyEmail marks the address a verification link was sent to as
// verified, if it is still one of the user's.
func (s *Service) VerifyEmail(ctx context.Context, t tenant.ID, token string) (*user.User, error) {
	var out *user.User
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		tok, err := s.ConsumeToken(ctx, t, PurposeVerifyEmail, token)
		if err != nil {
			return err
		}
		u, err := s.Store.User(ctx, t, tok.User)
		if err != nil {
			return err
		}
		emails := append([]user.Email(nil), u.Emails...)
		found := false
		for i := range emails {
			if emails[i].Value == tok.Data["email"] {
				emails[i].Verified, found = true, true
			}
		}
		if !found {
			return ErrTokenInvalid // the address was changed since the link was sent
		}
		out, err = s.Users.Update(withUser(ctx, u), tenant.Scope{Tenant: t}, u.ID, user.Patch{Emails: &emails}, 0)
		return err
	})
	return out, err
}

// ChangePassword is a signed-in user's own change: the current password
// must be right (so a borrowed session cannot take the account; wrong ones
// are throttled and counted towards lockout like at sign-in), the new one
// meets the policy and history, and every other session ends.
func (s *Service) ChangePassword(ctx context.Context, ses *Session, current, newPassword string) error {
	u, err := s.Store.User(ctx, ses.Tenant, ses.User)
	if err != nil {
		return err
	}
	ctx = withUser(ctx, u)
	subject := s.subject(u, "")
	failures, err := s.throttle(ctx, ses.Tenant, subject)
	if err != nil {
		return err
	}
	if _, err := s.Users.CheckPassword(ctx, ses.Tenant, u.Username, current); err != nil {
		if errors.Is(err, user.ErrBadCredentials) {
			err = errors.Join(err, s.Store.InTx(ctx, func(ctx context.Context) error {
				return s.addFailure(ctx, ses.Tenant, subject, u)
			}))
		}
		return err
	}
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.clearFailures(ctx, ses.Tenant, subject, failures); err != nil {
			return err
		}
		if _, err := s.Users.SetPassword(ctx, tenant.Scope{Tenant: ses.Tenant}, u.ID, newPassword); err != nil {
			return err
		}
		_, err := s.revokeAll(ctx, ses.Tenant, u.ID, ses.ID, "password changed")
		return err
	})
}
