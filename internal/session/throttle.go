package session

import (
	"context"
	"fmt"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

type throttleStore interface {
	// Failures returns the failed attempts in a row against subject and the
	// time of the last one (zero values when none).
	Failures(ctx context.Context, t tenant.ID, subject string) (int, time.Time, error)
	// AddFailure counts one more failure and returns the new count.
	AddFailure(ctx context.Context, t tenant.ID, subject string, at time.Time) (int, error)
	ClearFailures(ctx context.Context, t tenant.ID, subject string) error
	DeleteStaleFailures(ctx context.Context, before time.Time) (int, error)
}

// failureMemory is how long a run of failures is remembered after the last
// one; a quiet day starts the count afresh.
const failureMemory = 24 * time.Hour

// Delays grow from the third failure in a row (1 s, 2 s, 4 s, ...) up to
// maxDelay, so that guessing is slow long before lockout.
const (
	freeFailures = 2
	maxDelay     = time.Minute
)

// delayAfter is how long after the last of n failures the next attempt is
// refused without being checked.
func delayAfter(n int) time.Duration {
	if n <= freeFailures {
		return 0
	}
	d := time.Second << min(n-freeFailures-1, 6)
	return min(d, maxDelay)
}

// ThrottledError refuses an attempt made too soon after failures.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed attempts: try again in %s", e.Wait.Round(time.Second))
}

// Unwrap makes the error an errkind.Unauthenticated.
func (e *ThrottledError) Unwrap() error { return errkind.Unauthenticated }

// subject is what failures are counted against: the account when it exists
// (whether named by username or email), else a digest of the login typed,
// so that unknown accounts are throttled exactly like real ones and the
// answers never tell them apart.
func (s *Service) subject(u *user.User, login string) string {
	if u != nil {
		return "user:" + string(u.ID)
	}
	return "login:" + s.Digest.Digest(user.Key(login))
}

// throttle refuses an attempt against subject that comes too soon, and
// returns the failures in a row so far.
func (s *Service) throttle(ctx context.Context, t tenant.ID, subject string) (int, error) {
	n, last, err := s.Store.Failures(ctx, t, subject)
	if err != nil {
		return 0, err
	}
	if wait := last.Add(delayAfter(n)).Sub(s.Now()); wait > 0 {
		return n, &ThrottledError{Wait: wait}
	}
	return n, nil
}

// clearFailures forgets subject's failures after a success; most sign-ins
// follow none, and then write nothing here.
func (s *Service) clearFailures(ctx context.Context, t tenant.ID, subject string, n int) error {
	if n == 0 {
		return nil
	}
	return s.Store.ClearFailures(ctx, t, subject)
}
