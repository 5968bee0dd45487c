package session

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// FactorID identifies a second factor.
type FactorID string

// Kinds of second factor.
const (
	KindTOTP     = "totp"
	KindWebAuthn = "webauthn"
)

// Factor is one enrolled second factor.
type Factor struct {
	Tenant   tenant.ID
	ID       FactorID
	User     user.ID
	Kind     string
	Name     string
	Secret   []byte // TOTP: sealed with the master key
	LastStep int64  // TOTP: the last time step accepted (no replay)
	// WebAuthn: the credential id (base64url) and the library's credential
	// record, opaque here.
	CredentialID string
	Credential   []byte
	Created      time.Time
	LastUsed     time.Time
}

// Errors about factors.
var (
	ErrFactorNotFound = fmt.Errorf("factor %w", errkind.NotFound)
	ErrBadCode        = fmt.Errorf("the code is not right: %w", errkind.Unauthenticated)
	// ErrCredentialTaken refuses a WebAuthn credential already registered.
	ErrCredentialTaken = fmt.Errorf("this passkey is already registered: %w", errkind.Conflict)
)

type factorStore interface {
	CreateFactor(ctx context.Context, f *Factor) error
	Factors(ctx context.Context, t tenant.ID, u user.ID) ([]Factor, error)
	FactorByCredential(ctx context.Context, t tenant.ID, credentialID string) (*Factor, error)
	// UseTOTPStep records step as the last accepted one; false when it is
	// not later than the last (a replayed code).
	UseTOTPStep(ctx context.Context, t tenant.ID, id FactorID, step int64, at time.Time) (bool, error)
	UpdateCredential(ctx context.Context, t tenant.ID, id FactorID, credential []byte, at time.Time) error
	DeleteFactor(ctx context.Context, t tenant.ID, u user.ID, id FactorID) (bool, error)
	DeleteFactors(ctx context.Context, t tenant.ID, u user.ID) (int, error)
	ReplaceRecoveryCodes(ctx context.Context, t tenant.ID, u user.ID, hashes []string, at time.Time) error
	UseRecoveryCode(ctx context.Context, t tenant.ID, u user.ID, hash string) (bool, error)
	RecoveryCodesLeft(ctx context.Context, t tenant.ID, u user.ID) (int, error)
}

// TOTP parameters: SHA-1, 6 digits, 30 s, what every authenticator app
// understands (RFC 6238 §4; Google Authenticator ignores other settings).
const (
	totpPeriod = 30
	totpSkew   = 1 // steps either side, for clocks that drift
)

func sealContext(t tenant.ID, u user.ID) string { return "totp/" + string(t) + "/" + string(u) }

// TOTPEnrolment is a TOTP secret waiting for its first code.
type TOTPEnrolment struct {
	Token  string // the single-use step that ConfirmTOTP takes
	Secret string // base32, to type into an app
	URL    string // otpauth:// URL for a QR code
}

// BeginTOTP makes a new TOTP secret for u, to be confirmed with a code
// within ten minutes.
func (s *Service) BeginTOTP(ctx context.Context, t tenant.ID, u *user.User, issuer string) (*TOTPEnrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: u.Username, Period: totpPeriod,
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("generate totp secret: %w", err)
	}
	sealed := s.Seal.Seal([]byte(key.Secret()), sealContext(t, u.ID))
	tok, err := s.IssueToken(ctx, t, PurposeTOTPEnrol, u.ID,
		map[string]string{"secret": base64.StdEncoding.EncodeToString(sealed)}, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	return &TOTPEnrolment{Token: tok, Secret: key.Secret(), URL: key.URL()}, nil
}

// ConfirmTOTP checks the first code of an enrolment and keeps the factor. It
// returns new recovery codes when u had none left, to be shown once.
func (s *Service) ConfirmTOTP(ctx context.Context, t tenant.ID, u user.ID, enrolToken, code, name string) ([]string, error) {
	var codes []string
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		tok, err := s.PeekToken(ctx, t, PurposeTOTPEnrol, enrolToken)
		if err != nil {
			return err
		}
		if tok.User != u {
			return ErrTokenInvalid
		}
		sealed, err := base64.StdEncoding.DecodeString(tok.Data["secret"])
		if err != nil {
			return ErrTokenInvalid
		}
		secret, err := s.Seal.Open(sealed, sealContext(t, u))
		if err != nil {
			return ErrTokenInvalid
		}
		step, ok := matchTOTP(string(secret), code, s.Now())
		if !ok {
			return errkind.Relabel(ErrBadCode, "code")
		}
		if _, err := s.ConsumeToken(ctx, t, PurposeTOTPEnrol, enrolToken); err != nil {
			return err
		}
		now := s.Now()
		f := &Factor{Tenant: t, ID: FactorID(id.New("mfa", now)), User: u, Kind: KindTOTP, Name: factorName(name, "Authenticator app"),
			Secret: sealed, LastStep: step, Created: now}
		if err := s.Store.CreateFactor(ctx, f); err != nil {
			return err
		}
		if codes, err = s.ensureRecoveryCodes(ctx, t, u); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), now, "session.mfa_enrolled", "user", string(u),
			map[string]any{"factor_id": f.ID, "kind": f.Kind}))
	})
	return codes, err
}

func factorName(name, dflt string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return dflt
	}
	return truncate(name, 100)
}

// matchTOTP returns the time step a code is valid for around now.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*totpPeriod, 0),
			totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d, true
		}
	}
	return 0, false
}

// checkTOTP accepts a code of any of u's TOTP factors once: a code already
// used, or an older one, is refused (RFC 6238 §5.2).
func (s *Service) checkTOTP(ctx context.Context, t tenant.ID, u user.ID, code string) (bool, error) {
	fs, err := s.Store.Factors(ctx, t, u)
	if err != nil {
		return false, err
	}
	for _, f := range fs {
		if f.Kind != KindTOTP {
			continue
		}
		secret, err := s.Seal.Open(f.Secret, sealContext(t, u))
		if err != nil {
			return false, fmt.Errorf("open totp secret of %s: %w", f.ID, err)
		}
		if step, ok := matchTOTP(string(secret), code, s.Now()); ok {
			return s.Store.UseTOTPStep(ctx, t, f.ID, step, s.Now())
		}
	}
	return false, nil
}

// recoveryCodeCount codes of 10 base32 characters (50 bits) each.
const recoveryCodeCount = 10

func (s *Service) recoveryDigest(u user.ID, code string) string {
	code = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	return s.Digest.Digest("recovery/" + string(u) + "/" + code)
}

// ensureRecoveryCodes makes recovery codes when u has none left.
func (s *Service) ensureRecoveryCodes(ctx context.Context, t tenant.ID, u user.ID) ([]string, error) {
	left, err := s.Store.RecoveryCodesLeft(ctx, t, u)
	if err != nil || left > 0 {
		return nil, err
	}
	return s.newRecoveryCodes(ctx, t, u)
}

func (s *Service) newRecoveryCodes(ctx context.Context, t tenant.ID, u user.ID) ([]string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // 32 symbols without 0/o, 1/l
	codes := make([]string, recoveryCodeCount)
	hashes := make([]string, recoveryCodeCount)
	for i := range codes {
		b := make([]byte, 10)
		_, _ = rand.Read(b)
		for j := range b {
			b[j] = alphabet[b[j]&31]
		}
		codes[i] = string(b[:5]) + "-" + string(b[5:])
		hashes[i] = s.recoveryDigest(u, codes[i])
	}
	return codes, s.Store.ReplaceRecoveryCodes(ctx, t, u, hashes, s.Now())
}

// RegenerateRecoveryCodes replaces u's recovery codes (the old ones stop
// working) and returns the new ones, to be shown once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, t tenant.ID, u user.ID) ([]string, error) {
	var codes []string
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if codes, err = s.newRecoveryCodes(ctx, t, u); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), s.Now(), "session.recovery_codes_regenerated", "user", string(u), nil))
	})
	return codes, err
}

// RecoveryCodesLeft counts u's unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, t tenant.ID, u user.ID) (int, error) {
	return s.Store.RecoveryCodesLeft(ctx, t, u)
}

// Factors lists a user's second factors.
func (s *Service) Factors(ctx context.Context, sc tenant.Scope, u user.ID) ([]Factor, error) {
	if _, err := s.Users.User(ctx, sc, u); err != nil {
		return nil, err
	}
	return s.Store.Factors(ctx, sc.Tenant, u)
}

// FactorByCredential finds the WebAuthn factor of a credential id.
func (s *Service) FactorByCredential(ctx context.Context, t tenant.ID, credentialID string) (*Factor, error) {
	return s.Store.FactorByCredential(ctx, t, credentialID)
}

// AddWebAuthn keeps a WebAuthn credential the login pages registered for u.
// It returns new recovery codes when u had none left.
func (s *Service) AddWebAuthn(ctx context.Context, t tenant.ID, u user.ID, name, credentialID string, credential []byte) (*Factor, []string, error) {
	now := s.Now()
	f := &Factor{Tenant: t, ID: FactorID(id.New("mfa", now)), User: u, Kind: KindWebAuthn, Name: factorName(name, "Passkey"),
		CredentialID: credentialID, Credential: credential, Created: now}
	var codes []string
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.CreateFactor(ctx, f); err != nil {
			return err
		}
		var err error
		if codes, err = s.ensureRecoveryCodes(ctx, t, u); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), now, "session.mfa_enrolled", "user", string(u),
			map[string]any{"factor_id": f.ID, "kind": f.Kind}))
	})
	if err != nil {
		return nil, nil, err
	}
	return f, codes, nil
}

// RemoveFactor deletes one of u's factors (the user's own choice, or an
// admin's).
func (s *Service) RemoveFactor(ctx context.Context, sc tenant.Scope, u user.ID, fid FactorID) error {
	if _, err := s.Users.User(ctx, sc, u); err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		ok, err := s.Store.DeleteFactor(ctx, sc.Tenant, u, fid)
		if err != nil {
			return err
		}
		if !ok {
			return ErrFactorNotFound
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "session.factor_removed", "user", string(u),
			map[string]any{"factor_id": fid}))
	})
}

// ResetFactors removes all of u's factors and recovery codes (an admin's
// help for a user who lost their device); a tenant that requires MFA asks
// them to enrol again at the next sign-in.
func (s *Service) ResetFactors(ctx context.Context, sc tenant.Scope, u user.ID) (int, error) {
	if _, err := s.Users.User(ctx, sc, u); err != nil {
		return 0, err
	}
	var n int
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if n, err = s.Store.DeleteFactors(ctx, sc.Tenant, u); err != nil {
			return err
		}
		if err := s.Store.ReplaceRecoveryCodes(ctx, sc.Tenant, u, nil, s.Now()); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "session.factors_reset", "user", string(u),
			map[string]any{"factors": n}))
	})
	return n, err
}
