package access

import "strings"

// OIDCIssuer is the issuer of the OpenID Provider of the tenant with slug,
// on publicURL (scheme://host[:port], a trailing slash ignored): one issuer
// per tenant (OIDC Discovery §4.1: the discovery document lives under it).
func OIDCIssuer(publicURL, slug string) string {
	return strings.TrimSuffix(publicURL, "/") + "/t/" + slug
}

// OIDCEndpoints are the URLs an OIDC client is set up with, at the paths
// the provider (oidcop) serves under each issuer; the setup views of the
// console and the API take them from here, so they show one set.
type OIDCEndpoints struct {
	Issuer        string
	Discovery     string // OIDC Discovery §4
	Authorization string // RFC 6749 §3.1
	Token         string // RFC 6749 §3.2
	UserInfo      string // OIDC Core §5.3
	Introspection string // RFC 7662
	Revocation    string // RFC 7009
	EndSession    string // OIDC RP-Initiated Logout §2
	JWKS          string // RFC 7517 §5
}

// NewOIDCEndpoints returns the endpoints of the provider with issuer.
func NewOIDCEndpoints(issuer string) OIDCEndpoints {
	o := issuer + "/oauth2"
	return OIDCEndpoints{Issuer: issuer, Discovery: issuer + "/.well-known/openid-configuration",
		Authorization: o + "/authorize", Token: o + "/token", UserInfo: o + "/userinfo",
		Introspection: o + "/introspect", Revocation: o + "/revoke", EndSession: o + "/end_session", JWKS: o + "/keys"}
}
