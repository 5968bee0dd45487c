package oidcop

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// endSession signs the user of ses out of Tessera, revokes the grants that
// came from the session and sends a logout token to each of their clients
// that asked for back-channel logout.
func (h *Handler) endSession(ctx context.Context, t *tenant.Tenant, ses *session.Session) error {
	if err := h.Sessions.SignOut(ctx, ses); err != nil {
		return err
	}
	gs, err := h.Grants.EndSession(ctx, t.ID, ses.ID)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, g := range gs {
		if seen[g.ClientID] {
			continue
		}
		seen[g.ClientID] = true
		_, cfg, err := h.Access.OIDCClientByID(ctx, t.ID, g.ClientID)
		if err != nil || cfg.BackChannelLogoutURI == "" {
			continue
		}
		token, err := h.mintJWT(ctx, t.ID, keys.RS256, logoutJWTType, h.logoutClaims(t, g))
		if err != nil {
			return err
		}
		// Delivered after the answer, so that a slow application does not
		// hold up the browser; the outcome is audited.
		go h.deliverLogout(t, g, cfg.BackChannelLogoutURI, token)
	}
	return nil
}

// logoutJWTType is the type of logout tokens (OIDC Back-Channel Logout §2.4).
const logoutJWTType = "logout+jwt"

// logoutEvent is the member that makes a JWT a logout token.
const logoutEvent = "http://schemas.openid.net/event/backchannel-logout"

func (h *Handler) logoutClaims(t *tenant.Tenant, g grant.Grant) map[string]any {
	now := h.Now()
	return map[string]any{
		"iss": access.OIDCIssuer(h.PublicURL, t.Slug), "aud": g.ClientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
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
