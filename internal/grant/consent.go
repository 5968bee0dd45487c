package grant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Consent is a user's agreement that a third-party application may have
// the scopes listed, remembered until they take it back.
type Consent struct {
	Tenant  tenant.ID
	User    user.ID
	App     access.AppID
	Scopes  []string
	Created time.Time
	Updated time.Time
}

// ErrConsentNotFound: the user has not consented to the application.
var ErrConsentNotFound = fmt.Errorf("consent %w", errkind.NotFound)

// Consented reports whether u has agreed to give app every scope asked.
func (s *Service) Consented(ctx context.Context, t tenant.ID, u user.ID, app access.AppID, scopes []string) (bool, error) {
	c, err := s.Store.Consent(ctx, t, u, app)
	if errors.Is(err, ErrConsentNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// GiveConsent records that u agrees to give app scopes (added to what they
// agreed to before).
func (s *Service) GiveConsent(ctx context.Context, t tenant.ID, u user.ID, app access.AppID, scopes []string) error {
	now := s.Now()
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		c, err := s.Store.Consent(ctx, t, u, app)
		if errors.Is(err, ErrConsentNotFound) {
			c, err = &Consent{Tenant: t, User: u, App: app, Created: now}, nil
		}
		if err != nil {
			return err
		}
		c.Scopes = append(c.Scopes, scopes...)
		slices.Sort(c.Scopes)
		c.Scopes, c.Updated = slices.Compact(c.Scopes), now
		if err := s.Store.PutConsent(ctx, c); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), now, ActionConsent, audit.TargetApplication, string(app),
			map[string]any{"user_id": u, "scopes": c.Scopes}))
	})
}

// Consents lists the applications u has consented to.
func (s *Service) Consents(ctx context.Context, t tenant.ID, u user.ID) ([]Consent, error) {
	return s.Store.ListConsents(ctx, t, u)
}

// RevokeConsent takes back u's consent to app and ends the grants it
// allowed; false when there was none.
func (s *Service) RevokeConsent(ctx context.Context, t tenant.ID, u user.ID, app access.AppID) (bool, error) {
	found := false
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if found, err = s.Store.DeleteConsent(ctx, t, u, app); err != nil || !found {
			return err
		}
		if _, err := s.revoke(ctx, t, GrantMatch{User: u, App: app}, ReasonConsent); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), s.Now(), ActionConsentGone, audit.TargetApplication, string(app),
			map[string]any{"user_id": u}))
	})
	return found, err
}
