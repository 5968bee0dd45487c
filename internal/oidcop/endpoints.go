package oidcop

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/web"
)

// discovery answers the discovery document (OIDC Discovery §4) with what
// this provider does, which is less than the library's defaults lists:
// the code flow only (no implicit or hybrid response types, RFC 9700
// §2.1.2), the three grants clients may be given, PKCE with S256, and no
// device flow or session iframe.
func (h *Handler) discovery(ctx context.Context, w http.ResponseWriter, info *reqInfo) {
	d := op.CreateDiscoveryConfig(op.ContextWithIssuer(ctx, info.issuer), h.provider, &storage{h: h})
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{"query", "form_post"}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	d.DeviceAuthorizationEndpoint, d.CheckSessionIframe = "", ""
	d.IDTokenSigningAlgValuesSupported = slices.Clone(signingAlgorithms)
	// What client assertions may be signed with (the library verifies these).
	d.TokenEndpointAuthSigningAlgValuesSupported = []string{"RS256", "PS256", "ES256"}
	// The library's document type has no member for RFC 9207; add it.
	b, err := json.Marshal(d)
	var doc map[string]any
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "discovery document", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	doc["authorization_response_iss_parameter_supported"] = true
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "public, max-age=300")
	web.JSON(w, http.StatusOK, doc)
}

// issWriter adds the issuer to authorization responses (RFC 9207 §2): a
// redirect to the client that carries a code or an error also carries
// iss, so that a client talking to several providers (here, tenants) can
// tell which one answered and resist mix-up attacks (RFC 9700 §4.4).
type issWriter struct {
	http.ResponseWriter
	issuer string
}

func (w *issWriter) WriteHeader(status int) {
	if status == http.StatusFound || status == http.StatusSeeOther {
		if u, err := url.Parse(w.Header().Get("Location")); err == nil {
			q := u.Query()
			if (q.Has("code") || q.Has("error")) && !q.Has("iss") {
				q.Set("iss", w.issuer)
				u.RawQuery = q.Encode()
				w.Header().Set("Location", u.String())
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

// checkUserinfoToken answers the userinfo endpoint's refusals as OIDC Core
// §5.3.3 and RFC 6750 §3.1 ask, before the library (which answers 403 for
// a dead token): 401 with a Bearer challenge for a missing, invalid,
// expired or revoked token, 403 insufficient_scope for a token without
// openid. It reports whether the request may go on.
func (h *Handler) checkUserinfoToken(ctx context.Context, w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodOptions {
		return true // CORS preflight
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok && r.Method == http.MethodPost {
		token = r.PostFormValue("access_token") // RFC 6750 §2.2
	}
	challenge := func(status int, code, desc string) bool {
		w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+desc+`"`)
		w.Header().Set("Cache-Control", "no-store")
		web.JSON(w, status, map[string]string{"error": code, "error_description": desc})
		return false
	}
	if token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		w.WriteHeader(http.StatusUnauthorized) // RFC 6750 §3.1: no error code without a token
		return false
	}
	tok, g, _, err := (&storage{h: h}).liveAccess(ctx, token)
	var nf errNotFound
	switch {
	case errors.As(err, &nf):
		return challenge(http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
	case err != nil:
		h.Log.ErrorContext(ctx, "userinfo token", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return false
	case g == nil || !slices.Contains(tok.Scopes, access.ScopeOpenID):
		return challenge(http.StatusForbidden, "insufficient_scope", "the access token was not issued with the openid scope")
	}
	return true
}
