package session

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// MFA requirements.
const (
	MFAOptional = "optional"
	MFARequired = "required"
)

// Seconds is a duration that JSON carries as whole seconds.
type Seconds int64

// Duration converts to time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(s) * time.Second }

// Policy is a tenant's sign-in policy.
type Policy struct {
	IdleTimeout     Seconds `json:"idle_timeout_seconds"`
	AbsoluteTimeout Seconds `json:"absolute_timeout_seconds"`
	MFA             string  `json:"mfa"` // optional or required
	// LockoutThreshold failed attempts in a row lock the account (admin or
	// mail unlock); 0 turns lockout off. Delays grow from the third failure.
	LockoutThreshold int `json:"lockout_threshold"`
	// EditableAttributes are the profile fields users may change themselves
	// in the portal: standard ones ("given_name", "family_name",
	// "display_name", "phone", "locale", "time_zone") and custom attributes.
	EditableAttributes []string `json:"editable_attributes"`
	Branding           Branding `json:"branding"`
}

// Branding is how the sign-in pages and portal look for a tenant or an
// organization; empty fields inherit.
type Branding struct {
	Name            string `json:"name"`
	LogoURL         string `json:"logo_url"`
	PrimaryColor    string `json:"primary_color"`    // #rrggbb, buttons and links, white text on it
	BackgroundColor string `json:"background_color"` // #rrggbb, page background, dark text on it
}

// OrgPolicy is an organization's part of the policy.
type OrgPolicy struct {
	MFA      string   `json:"mfa"` // "" inherits the tenant's
	Branding Branding `json:"branding"`
}

// AppPolicy is an application's part of the policy.
type AppPolicy struct {
	MFA string `json:"mfa"` // "" inherits
}

// StandardEditable are the built-in profile fields a policy may open to users.
var StandardEditable = []string{"given_name", "family_name", "display_name", "phone", "locale", "time_zone"}

// DefaultPolicy is what a tenant gets until it sets its own.
func DefaultPolicy() Policy {
	return Policy{IdleTimeout: 30 * 60, AbsoluteTimeout: 12 * 3600, MFA: MFAOptional, LockoutThreshold: 10,
		EditableAttributes: []string{"given_name", "family_name", "display_name", "phone", "locale", "time_zone"}}
}

const (
	settingPolicy    = "sign_in.policy"
	settingOrgPrefix = "sign_in.org."
	settingAppPrefix = "sign_in.app."
)

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// Validate checks a policy, naming each bad field.
func (p *Policy) Validate() error {
	var errs []error
	if p.IdleTimeout < 60 || p.IdleTimeout > 30*86400 {
		errs = append(errs, errkind.Field("idle_timeout_seconds", "must be between 60 and 2592000"))
	}
	if p.AbsoluteTimeout < p.IdleTimeout || p.AbsoluteTimeout > 90*86400 {
		errs = append(errs, errkind.Field("absolute_timeout_seconds", "must be at least the idle timeout and at most 7776000"))
	}
	if p.MFA != MFAOptional && p.MFA != MFARequired {
		errs = append(errs, errkind.Field("mfa", "must be optional or required"))
	}
	if p.LockoutThreshold < 0 || p.LockoutThreshold > 100 || (p.LockoutThreshold > 0 && p.LockoutThreshold < 3) {
		errs = append(errs, errkind.Field("lockout_threshold", "must be 0 (off) or between 3 and 100"))
	}
	for i, a := range p.EditableAttributes {
		if a == "" || len(a) > 64 || slices.Index(p.EditableAttributes, a) != i {
			errs = append(errs, errkind.Field(fmt.Sprintf("editable_attributes.%d", i), "must be a distinct attribute name"))
		}
	}
	errs = append(errs, p.Branding.validate("branding"))
	return errors.Join(errs...)
}

func (b *Branding) validate(field string) error {
	var errs []error
	if len(b.Name) > 200 || strings.ContainsFunc(b.Name, func(r rune) bool { return r < 0x20 }) {
		errs = append(errs, errkind.Field(field+".name", "must be at most 200 characters without control characters"))
	}
	if b.LogoURL != "" {
		if u, err := url.Parse(b.LogoURL); err != nil || u.Scheme != "https" || u.Host == "" || len(b.LogoURL) > 2000 {
			errs = append(errs, errkind.Field(field+".logo_url", "must be an https URL"))
		}
	}
	// Text on the primary colour is white and text on the background is
	// near-black; refuse colours that would fail WCAG AA contrast (4.5:1).
	if b.PrimaryColor != "" {
		if !colorPattern.MatchString(b.PrimaryColor) {
			errs = append(errs, errkind.Field(field+".primary_color", "must be #rrggbb"))
		} else if contrast(b.PrimaryColor, "#ffffff") < 4.5 {
			errs = append(errs, errkind.Field(field+".primary_color", "is too light for white text (WCAG AA needs a contrast of 4.5:1)"))
		}
	}
	if b.BackgroundColor != "" {
		if !colorPattern.MatchString(b.BackgroundColor) {
			errs = append(errs, errkind.Field(field+".background_color", "must be #rrggbb"))
		} else if contrast(b.BackgroundColor, "#1a1a1a") < 4.5 {
			errs = append(errs, errkind.Field(field+".background_color", "is too dark for dark text (WCAG AA needs a contrast of 4.5:1)"))
		}
	}
	return errors.Join(errs...)
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(hex string) float64 {
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		s := float64(v) / 255
		if s <= 0.04045 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

func validMFA(field, v string) error {
	if v != "" && v != MFAOptional && v != MFARequired {
		return errkind.Field(field, "must be optional, required, or empty to inherit")
	}
	return nil
}

// Policy returns a tenant's sign-in policy.
func (s *Service) Policy(ctx context.Context, t tenant.ID) (Policy, error) {
	p := DefaultPolicy()
	_, err := s.Store.Setting(ctx, t, settingPolicy, &p)
	return p, err
}

// SetPolicy replaces a tenant's sign-in policy.
func (s *Service) SetPolicy(ctx context.Context, sc tenant.Scope, p Policy) error {
	if !sc.TenantWide() {
		return errOrgScoped
	}
	if p.EditableAttributes == nil {
		p.EditableAttributes = []string{}
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return s.putSetting(ctx, sc.Tenant, settingPolicy, p, "tenant.sign_in_policy_updated", "tenant", string(sc.Tenant))
}

var errOrgScoped = fmt.Errorf("only a tenant-wide caller may change this: %w", errkind.Denied)

// OrgPolicy returns an organization's part of the sign-in policy.
func (s *Service) OrgPolicy(ctx context.Context, t tenant.ID, org tenant.OrgID) (OrgPolicy, error) {
	var p OrgPolicy
	if org == "" {
		return p, nil
	}
	_, err := s.Store.Setting(ctx, t, settingOrgPrefix+string(org), &p)
	return p, err
}

// SetOrgPolicy replaces an organization's part of the policy; an
// organization's own admins may set it.
func (s *Service) SetOrgPolicy(ctx context.Context, sc tenant.Scope, org tenant.OrgID, p OrgPolicy) error {
	if !sc.Allows(org) {
		return tenant.ErrOrgNotFound
	}
	if _, err := s.Store.Organization(ctx, sc.Tenant, org); err != nil {
		return err
	}
	if err := errors.Join(validMFA("mfa", p.MFA), p.Branding.validate("branding")); err != nil {
		return err
	}
	return s.putSetting(ctx, sc.Tenant, settingOrgPrefix+string(org), p, "organization.sign_in_policy_updated", "organization", string(org))
}

// AppPolicy returns an application's part of the sign-in policy.
func (s *Service) AppPolicy(ctx context.Context, t tenant.ID, app access.AppID) (AppPolicy, error) {
	var p AppPolicy
	if app == "" {
		return p, nil
	}
	_, err := s.Store.Setting(ctx, t, settingAppPrefix+string(app), &p)
	return p, err
}

// SetAppPolicy replaces an application's part of the policy.
func (s *Service) SetAppPolicy(ctx context.Context, sc tenant.Scope, app access.AppID, p AppPolicy) error {
	if !sc.TenantWide() {
		return errOrgScoped
	}
	if _, err := s.Store.Application(ctx, sc.Tenant, app); err != nil {
		return err
	}
	if err := validMFA("mfa", p.MFA); err != nil {
		return err
	}
	return s.putSetting(ctx, sc.Tenant, settingAppPrefix+string(app), p, "application.sign_in_policy_updated", "application", string(app))
}

func (s *Service) putSetting(ctx context.Context, t tenant.ID, key string, v any, action, targetType, targetID string) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.PutSetting(ctx, t, key, v); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), s.Now(), action, targetType, targetID, map[string]any{"policy": v}))
	})
}

// MFARequired reports whether signing u's organization in (for app, when
// set) needs a second factor: required anywhere among tenant, organization
// and application wins. The three settings are read together, in one
// statement when the store can, and never cached: this is a security
// decision, and another node or process may change them at any time.
func (s *Service) MFARequired(ctx context.Context, t tenant.ID, org tenant.OrgID, app access.AppID) (bool, error) {
	p := DefaultPolicy()
	var op OrgPolicy
	var ap AppPolicy
	keys, dsts := []string{settingPolicy}, []any{&p}
	if org != "" {
		keys, dsts = append(keys, settingOrgPrefix+string(org)), append(dsts, &op)
	}
	if app != "" {
		keys, dsts = append(keys, settingAppPrefix+string(app)), append(dsts, &ap)
	}
	if err := s.settings(ctx, t, keys, dsts); err != nil {
		return false, err
	}
	return p.MFA == MFARequired || op.MFA == MFARequired || ap.MFA == MFARequired, nil
}

// settingsReader is a store that reads several settings in one statement
// (the SQL store does).
type settingsReader interface {
	Settings(ctx context.Context, t tenant.ID, keys []string, dsts []any) ([]bool, error)
}

// settings reads keys into dsts (a missing one leaves its dst alone).
func (s *Service) settings(ctx context.Context, t tenant.ID, keys []string, dsts []any) error {
	if r, ok := s.Store.(settingsReader); ok {
		_, err := r.Settings(ctx, t, keys, dsts)
		return err
	}
	for i, k := range keys {
		if _, err := s.Store.Setting(ctx, t, k, dsts[i]); err != nil {
			return err
		}
	}
	return nil
}

// BrandingFor merges a tenant's branding with its organization's.
func (s *Service) BrandingFor(ctx context.Context, t tenant.ID, org tenant.OrgID) (Branding, error) {
	p, err := s.Policy(ctx, t)
	if err != nil {
		return Branding{}, err
	}
	op, err := s.OrgPolicy(ctx, t, org)
	if err != nil {
		return Branding{}, err
	}
	b := p.Branding
	for _, f := range [...]struct {
		dst *string
		v   string
	}{{&b.Name, op.Branding.Name}, {&b.LogoURL, op.Branding.LogoURL},
		{&b.PrimaryColor, op.Branding.PrimaryColor}, {&b.BackgroundColor, op.Branding.BackgroundColor}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	return b, nil
}
