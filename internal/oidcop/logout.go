package oidcop

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// SessionsEnded is the session service's OnEnd hook, run inside the
// transaction that ends sessions ids: the grant service revokes what they
// gave (but offline access), and each client that received tokens in them
// and asked for back-channel logout gets a logout token once the change
// commits, whoever ended the session (the user, an application, an admin,
// a suspension).
func (h *Handler) SessionsEnded(ctx context.Context, t tenant.ID, ids []session.ID) error {
	gs, err := h.Grants.EndSessions(ctx, t, ids)
	if err != nil || len(gs) == 0 {
		return err
	}
	ten, err := h.Tenants.Tenant(ctx, t)
	if err != nil {
		return err
	}
	type notice struct {
		g     grant.Grant
		uri   string
		token string
	}
	var notices []notice
	seen := map[string]bool{}
	for _, g := range gs {
		key := string(g.Session) + " " + g.ClientID
		if seen[key] {
			continue
		}
		seen[key] = true
		_, cfg, err := h.Access.OIDCClientByID(ctx, t, g.ClientID)
		if err != nil || cfg.BackChannelLogoutURI == "" {
			continue
		}
		token, err := h.mintJWT(ctx, t, cfg.IDTokenSignedResponseAlg, logoutJWTType, h.logoutClaims(ten, g))
		if err != nil {
			return err
		}
		notices = append(notices, notice{g, cfg.BackChannelLogoutURI, token})
	}
	// Delivered after the commit and the answer, so that a slow application
	// neither holds up the browser nor hears of a logout that rolled back;
	// each outcome is audited.
	h.Grants.AfterCommit(ctx, func() {
		for _, n := range notices {
			go h.deliverLogout(ten, n.g, n.uri, n.token)
		}
	})
	return nil
}

// logoutJWTType is the type of logout tokens (OIDC Back-Channel Logout §2.4).
const logoutJWTType = "logout+jwt"

// logoutEvent is the member that makes a JWT a logout token.
const logoutEvent = "http://schemas.openid.net/event/backchannel-logout"

func (h *Handler) logoutClaims(t *tenant.Tenant, g grant.Grant) map[string]any {
	now := h.Now()
	return map[string]any{
		"iss": cmp.Or(g.Issuer, access.OIDCIssuer(h.PublicURL, t.Slug)), "aud": g.ClientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": id.New("lgt", now), "sub": string(g.User), "sid": string(g.Session),
		"events": map[string]any{logoutEvent: map[string]any{}},
	}
}

// deliverLogout posts a logout token (§2.5) and audits the outcome.
func (h *Handler) deliverLogout(t *tenant.Tenant, g grant.Grant, uri, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reason := ""
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err == nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		var resp *http.Response
		if resp, err = h.LogoutClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
				reason = "status " + resp.Status
			}
		}
	}
	if err != nil {
		reason = "unreachable"
	}
	if err := h.Sessions.RecordSLO(ctx, t.ID, g.Session, g.App, "idp", reason,
		map[string]any{"protocol": "oidc", "client_id": g.ClientID, "binding": "back-channel"}); err != nil {
		h.Log.Error("audit back-channel logout", "err", err)
	}
}
