package api

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/web"
)

// A user's browser sessions and second factors, for an admin helping them:
// list, sign out one device or everywhere, reset lost factors. Secrets
// (session tokens, TOTP secrets, WebAuthn credentials, recovery codes) never
// leave the domain.

type sessionJSON struct {
	ID         string   `json:"id"`
	CreatedAt  *string  `json:"created_at"`
	LastSeenAt *string  `json:"last_seen_at"`
	IdleUntil  *string  `json:"idle_until"`
	ExpiresAt  *string  `json:"expires_at"`
	AMR        []string `json:"amr"`
	MFA        bool     `json:"mfa"`
	ClientIP   string   `json:"client_ip"`
	UserAgent  string   `json:"user_agent"`
}

func sessionView(s *session.Session) sessionJSON {
	v := sessionJSON{ID: string(s.ID), CreatedAt: timeText(s.Created), LastSeenAt: timeText(s.LastSeen),
		IdleUntil: timeText(s.IdleUntil), ExpiresAt: timeText(s.Expires), AMR: s.AMR, MFA: s.MFA(),
		ClientIP: s.ClientIP, UserAgent: s.UserAgent}
	if v.AMR == nil {
		v.AMR = []string{}
	}
	return v
}

func (a *API) listUserSessions(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r); err != nil {
		return err
	}
	ss, err := a.Sessions.Sessions(r.Context(), scope(r), user.ID(r.PathValue("id")))
	if err != nil {
		return err
	}
	views := make([]sessionJSON, len(ss))
	for i := range ss {
		views[i] = sessionView(&ss[i])
	}
	return writeList(w, r, views, "")
}

// revokeUserSession signs one device out.
func (a *API) revokeUserSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.Sessions.Revoke(r.Context(), scope(r), user.ID(r.PathValue("id")), session.ID(r.PathValue("session_id")), "admin"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeUserSessions signs the user out everywhere.
func (a *API) revokeUserSessions(w http.ResponseWriter, r *http.Request) error {
	n, err := a.Sessions.RevokeAll(r.Context(), scope(r), user.ID(r.PathValue("id")), "", "admin")
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]int{"revoked": n})
	return nil
}

type factorJSON struct {
	ID         string  `json:"id"`
	Kind       string  `json:"kind"`
	Name       string  `json:"name"`
	CreatedAt  *string `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
}

type factorsJSON struct {
	Items             []factorJSON `json:"items"`
	RecoveryCodesLeft int          `json:"recovery_codes_left"`
}

func (a *API) listUserFactors(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r); err != nil {
		return err
	}
	uid := user.ID(r.PathValue("id"))
	fs, err := a.Sessions.Factors(r.Context(), scope(r), uid) // checks the user is in reach
	if err != nil {
		return err
	}
	left, err := a.Sessions.RecoveryCodesLeft(r.Context(), scope(r).Tenant, uid)
	if err != nil {
		return err
	}
	out := factorsJSON{Items: make([]factorJSON, len(fs)), RecoveryCodesLeft: left}
	for i, f := range fs {
		out.Items[i] = factorJSON{ID: string(f.ID), Kind: f.Kind, Name: f.Name, CreatedAt: timeText(f.Created),
			LastUsedAt: timeText(f.LastUsed)}
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

// resetUserFactors removes every factor and recovery code of a user who
// lost their device.
func (a *API) resetUserFactors(w http.ResponseWriter, r *http.Request) error {
	n, err := a.Sessions.ResetFactors(r.Context(), scope(r), user.ID(r.PathValue("id")))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]int{"removed": n})
	return nil
}

func (a *API) deleteUserFactor(w http.ResponseWriter, r *http.Request) error {
	if err := a.Sessions.RemoveFactor(r.Context(), scope(r), user.ID(r.PathValue("id")), session.FactorID(r.PathValue("factor_id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
