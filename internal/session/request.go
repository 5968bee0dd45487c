package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// SSORequest is a request an application sent through the browser (a SAML
// AuthnRequest), remembered until it expires: an application's request id
// is accepted once (ASVS 5.0 6.8.3), and a request whose browser must sign
// in first waits here for it.
type SSORequest struct {
	Tenant tenant.ID
	App    access.AppID
	// ID is the protocol's own request id, unique per application until
	// Expires.
	ID string
	// Data is what answering the request needs (where to, relay state,
	// flags); never a secret.
	Data    map[string]string
	Created time.Time
	// Expires is when the protocol would refuse the request anyway (its
	// issue instant plus the accepted age), or later for a held request.
	Expires time.Time
}

// ErrReplay refuses a request id an application already sent.
var ErrReplay = fmt.Errorf("this request was already received: %w", errkind.Conflict)

type requestStore interface {
	// CreateSSORequest records r, holding it under resumeHash unless that
	// is empty. A live record of the same application and id makes it
	// insert nothing and return ErrReplay, without aborting a surrounding
	// transaction; an expired one is replaced.
	CreateSSORequest(ctx context.Context, r *SSORequest, resumeHash string) error
	// SSORequestByResume reads a held request; ErrTokenInvalid when none is
	// held under hash.
	SSORequestByResume(ctx context.Context, hash string) (*SSORequest, error)
	// TakeSSORequest stops holding a request and returns it; ErrTokenInvalid
	// when none is held under hash (so of two concurrent takes, one wins).
	// Its id stays recorded until it expires.
	TakeSSORequest(ctx context.Context, hash string) (*SSORequest, error)
	DeleteExpiredSSORequests(ctx context.Context, now time.Time) (int, error)
}

// RecordRequest remembers r's id until r.Expires, for a request answered at
// once; ErrReplay when the application sent that id before.
func (s *Service) RecordRequest(ctx context.Context, r *SSORequest) error {
	r.Created = s.Now()
	return s.createRequest(ctx, r, "")
}

// HoldRequest records r like RecordRequest and keeps it for a browser that
// must sign in first; the secret it returns resumes the request once.
func (s *Service) HoldRequest(ctx context.Context, r *SSORequest) (string, error) {
	r.Created = s.Now()
	secret, hash := newSecret()
	if err := s.createRequest(ctx, r, hash); err != nil {
		return "", err
	}
	return secret, nil
}

func (s *Service) createRequest(ctx context.Context, r *SSORequest, hash string) error {
	if r.Data == nil {
		r.Data = map[string]string{}
	}
	if err := s.Store.CreateSSORequest(ctx, r, hash); err != nil {
		if errors.Is(err, ErrReplay) {
			return err
		}
		return fmt.Errorf("record request of %s: %w", r.App, err)
	}
	return nil
}

// HeldRequest returns the request held under secret in tenant t without
// taking it. Unknown, taken, expired and foreign secrets give
// ErrTokenInvalid alike.
func (s *Service) HeldRequest(ctx context.Context, t tenant.ID, secret string) (*SSORequest, error) {
	return s.checkRequest(t)(s.Store.SSORequestByResume(ctx, digestOf(secret)))
}

// TakeRequest takes the request held under secret: it can be answered once.
func (s *Service) TakeRequest(ctx context.Context, t tenant.ID, secret string) (*SSORequest, error) {
	return s.checkRequest(t)(s.Store.TakeSSORequest(ctx, digestOf(secret)))
}

func (s *Service) checkRequest(t tenant.ID) func(*SSORequest, error) (*SSORequest, error) {
	return func(r *SSORequest, err error) (*SSORequest, error) {
		if err != nil {
			return nil, err
		}
		if r.Tenant != t || !s.Now().Before(r.Expires) {
			return nil, ErrTokenInvalid
		}
		return r, nil
	}
}
