// Package console serves the admin console of each tenant at
// /t/{tenant}/console/: the tenant's applications with the setup view an
// application's administrator pastes from (SAML IdP URLs and certificates,
// OIDC client and endpoints), the rotation of an OIDC client's secret, and
// the published signing keys.
//
// Flow: admins are API-token principals, so the sign-in page takes an API
// token of the tenant (apitoken.Service.Authenticate, as the REST API does)
// and sets a cookie sealing {tenant, token id, expiry} with AES-GCM; nothing
// secret is kept in the browser or in one node's memory, and every request
// checks again that the token still exists, is live and belongs to the
// tenant. Read-only and user-manager tokens may view; only admin tokens may
// change anything. Every form carries a CSRF token (web.CSRF) behind the
// cross-origin check, and every page a strict CSP with a per-response nonce.
//
// It must not import store, api or another adapter, and never puts a secret
// into a URL, a log or a cacheable response.
package console
