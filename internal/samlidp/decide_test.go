package samlidp

import (
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/session"
)

func TestDecide(t *testing.T) {
	asked := time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC)
	older := &session.Session{Created: asked.Add(-time.Hour)}
	newer := &session.Session{Created: asked.Add(time.Second)}
	withMFA := &session.Session{Created: asked.Add(-time.Hour), MFAAt: asked.Add(-time.Hour)}
	for _, c := range []struct {
		name           string
		ses            *session.Session
		force, passive bool
		mfa            bool
		want           verdict
	}{
		{"no session", nil, false, false, false, verdictSignIn},
		{"no session, passive", nil, false, true, false, verdictNoPassive},
		{"session", older, false, false, false, verdictAnswer},
		{"session, passive", older, false, true, false, verdictAnswer},
		{"force, old session", older, true, false, false, verdictSignIn},
		{"force, new session", newer, true, false, false, verdictAnswer},
		{"force and passive, old session", older, true, true, false, verdictNoPassive},
		{"MFA needed, old session without", older, false, false, true, verdictSignIn},
		{"MFA needed, new session without", newer, false, false, true, verdictNeedsMFA},
		{"MFA needed, session with", withMFA, false, false, true, verdictAnswer},
		{"MFA needed, passive, session without", older, false, true, true, verdictNoPassive},
	} {
		p := &pending{created: asked, force: c.force, passive: c.passive}
		if got := decide(p, c.ses, c.mfa); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
