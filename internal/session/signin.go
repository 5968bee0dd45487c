package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Attempt is a password sign-in.
type Attempt struct {
	Login    string // username or primary email
	Password string
	App      access.AppID // the application that sent the user here, if any
	Client   Client
}

// Outcome is where a sign-in step leaves the browser: signed in (Session
// and Token set), or at a second-factor step (Pending set).
type Outcome struct {
	User    *user.User
	Session *Session
	Token   string // the session cookie's value
	Pending string // the single-use secret of the second-factor step
	// Enrol says the second-factor step is an enrolment: MFA is required
	// and the user has no factor yet.
	Enrol bool
}

// Methods of authentication, as RFC 8176 names them.
const (
	AMRPassword = "pwd"
	AMRTOTP     = "otp"
	AMRWebAuthn = "hwk"
	AMRRecovery = "rec" // a recovery code (not in RFC 8176; tells auditors it was one)
)

// pendingTTL is how long a password step waits for its second factor.
const pendingTTL = 10 * time.Minute

// SignIn checks a password and opens a session, or a second-factor step
// when the user has a factor or the policy requires one. The error for an
// unknown account, a wrong password, and an account that may not sign in is
// the same user.ErrBadCredentials, after the same work; too early an attempt
// after failures is a *ThrottledError, for unknown accounts too.
func (s *Service) SignIn(ctx context.Context, t tenant.ID, a Attempt) (*Outcome, error) {
	known, err := s.Store.UserByKey(ctx, t, user.Key(a.Login))
	if err != nil && !errors.Is(err, user.ErrNotFound) {
		return nil, err
	}
	subject := s.subject(known, a.Login)
	target, targetID := signInTarget(known, a.App)
	fail := func(reason string, cause error) (*Outcome, error) {
		err := s.Store.InTx(ctx, func(ctx context.Context) error {
			if reason != "throttled" {
				if err := s.addFailure(ctx, t, subject, known); err != nil {
					return err
				}
			}
			e := audit.New(withUser(ctx, known), string(t), s.Now(), audit.ActionSignIn, target, targetID,
				map[string]any{"reason": reason, "login": truncate(a.Login, 100), "method": AMRPassword})
			e.Outcome = audit.Failure
			return s.Store.AppendEvent(ctx, e)
		})
		return nil, errors.Join(cause, err)
	}
	failures, err := s.throttle(ctx, t, subject)
	if err != nil {
		return fail("throttled", err)
	}
	u, err := s.Users.CheckPassword(ctx, t, a.Login, a.Password)
	if errors.Is(err, user.ErrBadCredentials) {
		return fail(badCredentialsReason(known), err)
	}
	if err != nil {
		return nil, err
	}
	if err := s.clearFailures(ctx, t, subject, failures); err != nil {
		return nil, err
	}
	factors, err := s.Store.Factors(ctx, t, u.ID)
	if err != nil {
		return nil, err
	}
	required, err := s.MFARequired(ctx, t, u.Org, a.App)
	if err != nil {
		return nil, err
	}
	if len(factors) == 0 && !required {
		return s.open(ctx, t, u, a.App, []string{AMRPassword}, a.Client)
	}
	pending, err := s.IssueToken(ctx, t, PurposeMFA, u.ID, map[string]string{"app": string(a.App)}, pendingTTL)
	if err != nil {
		return nil, err
	}
	return &Outcome{User: u, Pending: pending, Enrol: len(factors) == 0}, nil
}

func badCredentialsReason(known *user.User) string {
	switch {
	case known == nil:
		return "unknown_account"
	case known.Locked:
		return "locked"
	case known.Status != user.Active:
		return "not_active"
	default:
		return "bad_password"
	}
}

func signInTarget(u *user.User, app access.AppID) (string, string) {
	if app != "" {
		return audit.TargetApplication, string(app)
	}
	if u != nil {
		return "user", string(u.ID)
	}
	return "user", ""
}

// withUser names the user as the actor once they are known; the request's
// address and id stay.
func withUser(ctx context.Context, u *user.User) context.Context {
	if u == nil {
		return ctx
	}
	return audit.AsUser(ctx, string(u.ID))
}

// addFailure counts a failure and locks the account when it reaches the
// tenant's threshold.
func (s *Service) addFailure(ctx context.Context, t tenant.ID, subject string, u *user.User) error {
	n, err := s.Store.AddFailure(ctx, t, subject, s.Now())
	if err != nil {
		return err
	}
	if u == nil || u.Locked || u.Status != user.Active {
		return nil
	}
	p, err := s.Policy(ctx, t)
	if err != nil {
		return err
	}
	if p.LockoutThreshold == 0 || n < p.LockoutThreshold {
		return nil
	}
	sys := audit.ActorFrom(ctx)
	sys.Type, sys.ID = "system", "sign-in lockout"
	if _, err := s.Users.Transition(audit.WithActor(ctx, sys), tenant.Scope{Tenant: t}, u.ID, user.OpLock, 0); err != nil {
		return fmt.Errorf("lock %s after %d failures: %w", u.ID, n, err)
	}
	return nil
}

// open starts a session and records the sign-in.
func (s *Service) open(ctx context.Context, t tenant.ID, u *user.User, app access.AppID, amr []string, c Client) (*Outcome, error) {
	var out *Outcome
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		ses, token, err := s.start(ctx, t, u.ID, amr, c)
		if err != nil {
			return err
		}
		out = &Outcome{User: u, Session: ses, Token: token}
		target, targetID := signInTarget(u, app)
		return s.Store.AppendEvent(ctx, audit.New(withUser(ctx, u), string(t), ses.Created, audit.ActionSignIn, target, targetID,
			map[string]any{"session_id": ses.ID, "amr": amr}))
	})
	return out, err
}

// Pending is a sign-in waiting for its second factor.
type Pending struct {
	User    *user.User
	App     access.AppID
	Factors []Factor
	Enrol   bool // no factor yet: the step is an enrolment
}

// PendingStep reads a second-factor step without using it up.
func (s *Service) PendingStep(ctx context.Context, t tenant.ID, secret string) (*Pending, error) {
	tok, err := s.PeekToken(ctx, t, PurposeMFA, secret)
	if err != nil {
		return nil, err
	}
	u, err := s.Store.User(ctx, t, tok.User)
	if err != nil {
		return nil, err
	}
	if u.Status != user.Active || u.Locked {
		return nil, ErrTokenInvalid
	}
	fs, err := s.Store.Factors(ctx, t, u.ID)
	if err != nil {
		return nil, err
	}
	return &Pending{User: u, App: access.AppID(tok.Data["app"]), Factors: fs, Enrol: len(fs) == 0}, nil
}

// secondFactor runs check against a pending step: throttled and counted
// like passwords (a wrong code is a failure towards lockout), and on
// success the step is used up and the session opened with amr.
func (s *Service) secondFactor(ctx context.Context, t tenant.ID, pending string, c Client, method string,
	check func(ctx context.Context, p *Pending) (bool, error)) (*Outcome, error) {
	p, err := s.PendingStep(ctx, t, pending)
	if err != nil {
		return nil, err
	}
	subject := s.subject(p.User, "")
	failures, err := s.throttle(ctx, t, subject)
	if err != nil {
		return nil, err
	}
	var out *Outcome
	var bad bool
	err = s.Store.InTx(ctx, func(ctx context.Context) error {
		ok, err := check(ctx, p)
		if err != nil {
			return err
		}
		if !ok {
			bad = true
			return nil
		}
		if _, err := s.ConsumeToken(ctx, t, PurposeMFA, pending); err != nil {
			return err
		}
		if err := s.clearFailures(ctx, t, subject, failures); err != nil {
			return err
		}
		out, err = s.open(ctx, t, p.User, p.App, []string{AMRPassword, method}, c)
		return err
	})
	if err != nil || !bad {
		return out, err
	}
	err = s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.addFailure(ctx, t, subject, p.User); err != nil {
			return err
		}
		target, targetID := signInTarget(p.User, p.App)
		e := audit.New(withUser(ctx, p.User), string(t), s.Now(), audit.ActionSignIn, target, targetID,
			map[string]any{"reason": "bad_second_factor", "method": method})
		e.Outcome = audit.Failure
		return s.Store.AppendEvent(ctx, e)
	})
	return nil, errors.Join(ErrBadCode, err)
}

// CompleteTOTP finishes a pending sign-in with a TOTP code.
func (s *Service) CompleteTOTP(ctx context.Context, t tenant.ID, pending, code string, c Client) (*Outcome, error) {
	return s.secondFactor(ctx, t, pending, c, AMRTOTP, func(ctx context.Context, p *Pending) (bool, error) {
		return s.checkTOTP(ctx, t, p.User.ID, code)
	})
}

// CompleteRecovery finishes a pending sign-in with a recovery code, which
// is used up.
func (s *Service) CompleteRecovery(ctx context.Context, t tenant.ID, pending, code string, c Client) (*Outcome, error) {
	return s.secondFactor(ctx, t, pending, c, AMRRecovery, func(ctx context.Context, p *Pending) (bool, error) {
		if p.Enrol {
			return false, nil
		}
		return s.Store.UseRecoveryCode(ctx, t, p.User.ID, s.recoveryDigest(p.User.ID, code))
	})
}

// CompleteWebAuthn finishes a pending sign-in after the login pages checked
// a WebAuthn assertion of factor f; updated is the credential record with
// its new signature counter.
func (s *Service) CompleteWebAuthn(ctx context.Context, t tenant.ID, pending string, f FactorID, updated []byte, c Client) (*Outcome, error) {
	return s.secondFactor(ctx, t, pending, c, AMRWebAuthn, func(ctx context.Context, p *Pending) (bool, error) {
		if !slices.ContainsFunc(p.Factors, func(x Factor) bool { return x.ID == f && x.Kind == KindWebAuthn }) {
			return false, nil
		}
		return true, s.Store.UpdateCredential(ctx, t, f, updated, s.Now())
	})
}

// CompleteEnrolTOTP finishes a pending sign-in that had to enrol: it
// confirms the new TOTP factor with its first code and opens the session.
// The recovery codes are to be shown once.
func (s *Service) CompleteEnrolTOTP(ctx context.Context, t tenant.ID, pending, enrolToken, code, name string, c Client) (*Outcome, []string, error) {
	var codes []string
	out, err := s.secondFactor(ctx, t, pending, c, AMRTOTP, func(ctx context.Context, p *Pending) (bool, error) {
		if !p.Enrol {
			return false, nil // the user has a factor: enrolling another must not stand in for it
		}
		var err error
		codes, err = s.ConfirmTOTP(ctx, t, p.User.ID, enrolToken, code, name)
		if errors.Is(err, ErrBadCode) {
			return false, nil
		}
		return err == nil, err
	})
	return out, codes, err
}

// CompleteEnrolWebAuthn finishes a pending sign-in that had to enrol, with
// a credential the login pages registered.
func (s *Service) CompleteEnrolWebAuthn(ctx context.Context, t tenant.ID, pending, name, credentialID string, credential []byte, c Client) (*Outcome, []string, error) {
	var codes []string
	out, err := s.secondFactor(ctx, t, pending, c, AMRWebAuthn, func(ctx context.Context, p *Pending) (bool, error) {
		if !p.Enrol {
			return false, nil // as in CompleteEnrolTOTP
		}
		var err error
		_, codes, err = s.AddWebAuthn(ctx, t, p.User.ID, name, credentialID, credential)
		return err == nil, err
	})
	return out, codes, err
}
