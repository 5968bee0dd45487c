package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// ID identifies a session in lists and audit events; it is not the secret
// the browser holds.
type ID string

// CookieName is the cookie that carries a browser's session token on a
// tenant's pages (path /t/{slug}/): the login adapter sets it, protocol
// adapters read it.
const CookieName = "tessera_session"

// Session is one signed-in browser.
type Session struct {
	Tenant    tenant.ID
	ID        ID
	User      user.ID
	AMR       []string // how the user proved who they are: "pwd", "otp", "hwk", "rec" (RFC 8176 names)
	ClientIP  string
	UserAgent string
	Created   time.Time // also the time of authentication
	MFAAt     time.Time // zero unless a second factor was given
	LastSeen  time.Time
	IdleUntil time.Time
	Expires   time.Time // absolute end, whatever the activity
}

// MFA reports whether the session was opened with a second factor.
func (s *Session) MFA() bool { return !s.MFAAt.IsZero() }

// Errors about sessions.
var (
	// ErrNoSession covers an unknown, expired, revoked or foreign token alike.
	ErrNoSession = fmt.Errorf("no valid session: %w", errkind.Unauthenticated)
	ErrNotFound  = fmt.Errorf("session %w", errkind.NotFound)
)

// Store keeps sessions, sign-in tokens, failure counters and factors.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// AfterCommit runs fn after the transaction in ctx commits.
	AfterCommit(ctx context.Context, fn func())
	audit.Appender
	Setting(ctx context.Context, t tenant.ID, key string, dst any) (bool, error)
	PutSetting(ctx context.Context, t tenant.ID, key string, v any) error
	User(ctx context.Context, t tenant.ID, id user.ID) (*user.User, error)
	UserByKey(ctx context.Context, t tenant.ID, key string) (*user.User, error)
	Organization(ctx context.Context, t tenant.ID, id tenant.OrgID) (*tenant.Organization, error)
	Application(ctx context.Context, t tenant.ID, id access.AppID) (*access.Application, error)

	CreateSession(ctx context.Context, s *Session, tokenHash string) error
	// SessionByToken finds a session by the digest of its token, in any
	// tenant; the caller checks the tenant and the times.
	SessionByToken(ctx context.Context, tokenHash string) (*Session, error)
	TouchSession(ctx context.Context, t tenant.ID, id ID, lastSeen, idleUntil time.Time) error
	ListSessions(ctx context.Context, t tenant.ID, u user.ID) ([]Session, error)
	DeleteSession(ctx context.Context, t tenant.ID, id ID) (*Session, error)
	// DeleteUserSessions ends every session of u but keep (which may be
	// empty) and returns the ids of those that ended.
	DeleteUserSessions(ctx context.Context, t tenant.ID, u user.ID, keep ID) ([]ID, error)
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
	// MarkSessionsEnded and SessionsEpoch let caching processes learn of
	// sessions ended by another process (a CLI command beside the server).
	MarkSessionsEnded(ctx context.Context) error
	SessionsEpoch(ctx context.Context) (string, error)

	tokenStore
	throttleStore
	factorStore
	requestStore
	participantStore
}

// Service runs sign-in and keeps sessions.
type Service struct {
	Store  Store
	Now    func() time.Time
	Users  *user.Service
	Access *access.Service
	// Seal encrypts TOTP secrets at rest; Digest keys the digests of
	// recovery codes and of unknown logins.
	Seal   *keys.MasterKey
	Digest keys.Digester
	// Cache, when set, answers Validate from memory (see Cache for when
	// that is right).
	Cache *Cache
	// OnEnd, when set, runs inside the transaction that ends sessions
	// (sign-out, revocation, the user's suspension): the OpenID provider
	// revokes what those sessions gave and schedules back-channel logout.
	OnEnd func(ctx context.Context, t tenant.ID, ids []ID) error

	activity activity
}

// activity holds sessions' latest activity until FlushActivity writes it,
// so that a request never waits on a write to extend its session.
type activity struct {
	mu      sync.Mutex
	pending map[ID]touch
}

type touch struct {
	tenant              tenant.ID
	lastSeen, idleUntil time.Time
}

// record keeps ses's new activity for the next flush.
func (a *activity) record(ses *Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil {
		a.pending = map[ID]touch{}
	}
	a.pending[ses.ID] = touch{tenant: ses.Tenant, lastSeen: ses.LastSeen, idleUntil: ses.IdleUntil}
}

// apply brings ses up to its activity not yet written.
func (a *activity) apply(ses *Session) {
	a.mu.Lock()
	t, ok := a.pending[ses.ID]
	a.mu.Unlock()
	if ok && t.tenant == ses.Tenant && t.lastSeen.After(ses.LastSeen) {
		ses.LastSeen, ses.IdleUntil = t.lastSeen, t.idleUntil
	}
}

func (a *activity) take() map[ID]touch {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending
	a.pending = nil
	return p
}

// FlushActivity writes the activity Validate recorded since the last flush,
// in one transaction. A session ended meanwhile stays ended: its row is
// gone and the update finds nothing. Run it every few seconds and at
// shutdown; what a crash loses only brings idle timeouts a little closer.
func (s *Service) FlushActivity(ctx context.Context) error {
	p := s.activity.take()
	if len(p) == 0 {
		return nil
	}
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		for id, t := range p {
			if err := s.Store.TouchSession(ctx, t.tenant, id, t.lastSeen, t.idleUntil); err != nil {
				return fmt.Errorf("write session activity: %w", err)
			}
		}
		return nil
	})
}

// ended tells the protocols that sessions ids of tenant t ended (inside the
// change's transaction), and drops cached sessions once it commits, here at
// once and in other processes within a WatchEpoch period.
func (s *Service) ended(ctx context.Context, t tenant.ID, ids []ID) error {
	if s.OnEnd != nil && len(ids) > 0 {
		if err := s.OnEnd(ctx, t, ids); err != nil {
			return err
		}
	}
	if s.Cache == nil {
		return nil
	}
	s.Store.AfterCommit(ctx, s.Cache.invalidate)
	return s.Store.MarkSessionsEnded(ctx)
}

// WatchEpoch voids the cache when another process ends sessions: it reads
// the current epoch, then checks it every period in the background until
// ctx ends. A no-op without a cache.
func (s *Service) WatchEpoch(ctx context.Context, period time.Duration) {
	if s.Cache == nil {
		return
	}
	last, _ := s.Store.SessionsEpoch(ctx)
	go s.watchEpoch(ctx, period, last)
}

func (s *Service) watchEpoch(ctx context.Context, period time.Duration, last string) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e, err := s.Store.SessionsEpoch(ctx)
		if err != nil || e == last {
			continue
		}
		last = e
		s.Cache.invalidate()
	}
}

// newSecret returns a 256-bit random token for a cookie or a link, and the
// digest under which it is stored. A plain SHA-256 is enough: the token is
// random, not a password.
func newSecret() (secret, digest string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, digestOf(secret)
}

func digestOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Client is where a request comes from, for sessions and audit events.
type Client struct {
	IP        string
	UserAgent string
}

// start opens a session for u; its timeouts come from the tenant policy.
func (s *Service) start(ctx context.Context, t tenant.ID, u user.ID, amr []string, c Client) (*Session, string, error) {
	p, err := s.Policy(ctx, t)
	if err != nil {
		return nil, "", err
	}
	now := s.Now()
	token, hash := newSecret()
	ses := &Session{Tenant: t, ID: ID(id.New("ses", now)), User: u, AMR: amr, ClientIP: c.IP, UserAgent: truncate(c.UserAgent, 512),
		Created: now, LastSeen: now, IdleUntil: now.Add(p.IdleTimeout.Duration()), Expires: now.Add(p.AbsoluteTimeout.Duration())}
	if len(amr) > 1 {
		ses.MFAAt = now
	}
	if err := s.Store.CreateSession(ctx, ses, hash); err != nil {
		return nil, "", fmt.Errorf("create session: %w", err)
	}
	return ses, token, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// touchEvery bounds how often a busy session's activity is recorded: idle
// timeouts are kept to within this much.
const touchEvery = time.Minute

// SignedIn returns the live session a browser's token opens in tenant t and
// its user, or nils when there is none (ErrNoSession, or a user deleted
// meanwhile): the protocols' "who is at this browser".
func (s *Service) SignedIn(ctx context.Context, t tenant.ID, token string) (*Session, *user.User, error) {
	ses, err := s.Validate(ctx, t, token)
	if errors.Is(err, ErrNoSession) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	u, err := s.Users.User(ctx, tenant.Scope{Tenant: t}, ses.User)
	if errors.Is(err, user.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return ses, u, nil
}

// Validate returns the live session a browser's token opens in tenant t,
// extending its idle timeout. Unknown, expired and foreign tokens all give
// ErrNoSession.
func (s *Service) Validate(ctx context.Context, t tenant.ID, token string) (*Session, error) {
	if len(token) != 43 { // 32 bytes, base64url without padding
		return nil, ErrNoSession
	}
	hash := digestOf(token)
	ses, gen, err := s.lookup(ctx, hash)
	if err != nil {
		return nil, err
	}
	s.activity.apply(ses)
	now := s.Now()
	if ses.Tenant != t || !now.Before(ses.IdleUntil) || !now.Before(ses.Expires) {
		return nil, ErrNoSession
	}
	if now.Sub(ses.LastSeen) >= touchEvery {
		idle := ses.IdleUntil.Sub(ses.LastSeen)
		ses.LastSeen, ses.IdleUntil = now, now.Add(idle)
		s.activity.record(ses)
		if s.Cache != nil {
			// Under the generation read before the session was: a
			// revocation since voids the entry.
			s.Cache.put(hash, *ses, gen)
		}
	}
	return ses, nil
}

// lookup finds a session by its token's digest, in the cache first, and
// returns the cache generation read before it, under which to cache it again.
func (s *Service) lookup(ctx context.Context, hash string) (*Session, uint64, error) {
	var gen uint64
	if s.Cache != nil {
		gen = s.Cache.gen.Load() // before any read: a revocation after it voids the entry
		if ses, ok := s.Cache.get(hash); ok {
			return &ses, gen, nil
		}
	}
	ses, err := s.Store.SessionByToken(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, 0, ErrNoSession
	}
	if err != nil {
		return nil, 0, err
	}
	if s.Cache != nil {
		s.Cache.put(hash, *ses, gen)
	}
	return ses, gen, nil
}

// Sessions lists a user's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, sc tenant.Scope, u user.ID) ([]Session, error) {
	if _, err := s.Users.User(ctx, sc, u); err != nil {
		return nil, err
	}
	all, err := s.Store.ListSessions(ctx, sc.Tenant, u)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	live := all[:0]
	for _, ses := range all {
		s.activity.apply(&ses)
		if now.Before(ses.IdleUntil) && now.Before(ses.Expires) {
			live = append(live, ses)
		}
	}
	return live, nil
}

// Revoke ends one session of user u (the user's own "sign out this device",
// or an admin's).
func (s *Service) Revoke(ctx context.Context, sc tenant.Scope, u user.ID, sid ID, reason string) error {
	if _, err := s.Users.User(ctx, sc, u); err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		ses, err := s.Store.DeleteSession(ctx, sc.Tenant, sid)
		if err != nil {
			return err
		}
		if err := s.ended(ctx, sc.Tenant, []ID{sid}); err != nil {
			return err
		}
		if ses.User != u {
			return ErrNotFound // another user's session: roll back
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "session.revoked", "user", string(u),
			map[string]any{"session_id": sid, "reason": reason}))
	})
}

// SignOut ends the session a browser holds (its own sign-out button).
func (s *Service) SignOut(ctx context.Context, ses *Session) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.Store.DeleteSession(ctx, ses.Tenant, ses.ID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil // already ended
			}
			return err
		}
		if err := s.ended(ctx, ses.Tenant, []ID{ses.ID}); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(ses.Tenant), s.Now(), "session.signed_out", "user", string(ses.User),
			map[string]any{"session_id": ses.ID}))
	})
}

// RevokeAll ends every session of u except keep ("sign out everywhere else";
// keep empty ends them all) and reports how many ended.
func (s *Service) RevokeAll(ctx context.Context, sc tenant.Scope, u user.ID, keep ID, reason string) (int, error) {
	if _, err := s.Users.User(ctx, sc, u); err != nil {
		return 0, err
	}
	var n int
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if n, err = s.revokeAll(ctx, sc.Tenant, u, keep, reason); err != nil {
			return err
		}
		return nil
	})
	return n, err
}

func (s *Service) revokeAll(ctx context.Context, t tenant.ID, u user.ID, keep ID, reason string) (int, error) {
	ids, err := s.Store.DeleteUserSessions(ctx, t, u, keep)
	n := len(ids)
	if err != nil || n == 0 {
		return n, err
	}
	if err := s.ended(ctx, t, ids); err != nil {
		return n, err
	}
	return n, s.Store.AppendEvent(ctx, audit.New(ctx, string(t), s.Now(), "session.revoked_all", "user", string(u),
		map[string]any{"sessions": n, "reason": reason, "kept_session_id": keep}))
}

// UserChanged ends every session of a user who may no longer sign in
// (suspended, deactivated, back to staged), inside the transaction of that
// change; wired by the server after user changes. A deleted user's sessions
// go with the row.
func (s *Service) UserChanged(ctx context.Context, t tenant.ID, uid user.ID) error {
	u, err := s.Store.User(ctx, t, uid)
	if errors.Is(err, user.ErrNotFound) {
		return s.ended(ctx, t, nil) // the user's sessions, and grants, went with the row
	}
	if err != nil {
		return err
	}
	if u.Status == user.Active {
		if u.Locked {
			return nil
		}
		return s.forgiveLockout(ctx, t, u)
	}
	_, err = s.revokeAll(ctx, t, uid, "", "user "+string(u.Status))
	return err
}

// forgiveLockout forgets the failures of an unlocked account whose count
// reached the lockout threshold (an admin lifted the lockout): otherwise its
// owner's next typo would lock it again at once.
func (s *Service) forgiveLockout(ctx context.Context, t tenant.ID, u *user.User) error {
	subject := s.subject(u, "")
	n, _, err := s.Store.Failures(ctx, t, subject)
	if err != nil || n == 0 {
		return err
	}
	p, err := s.Policy(ctx, t)
	if err != nil {
		return err
	}
	if p.LockoutThreshold == 0 || n < p.LockoutThreshold {
		return nil
	}
	return s.Store.ClearFailures(ctx, t, subject)
}

// PurgeExpired deletes sessions past their absolute end, tokens and
// application requests past their expiry and failure counters gone quiet;
// run periodically.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	if err := s.FlushActivity(ctx); err != nil { // idle timeouts as recorded
		return 0, err
	}
	now := s.Now()
	n, err := s.Store.DeleteExpiredSessions(ctx, now)
	if err != nil {
		return n, err
	}
	m, err := s.Store.DeleteExpiredSignInTokens(ctx, now)
	if err != nil {
		return n + m, err
	}
	r, err := s.Store.DeleteExpiredSSORequests(ctx, now)
	if err != nil {
		return n + m + r, err
	}
	k, err := s.Store.DeleteStaleFailures(ctx, now.Add(-failureMemory))
	if err != nil {
		return n + m + r + k, err
	}
	p, err := s.Store.DeleteStaleSSOParticipants(ctx, now.Add(-participantMemory))
	return n + m + r + k + p, err
}
