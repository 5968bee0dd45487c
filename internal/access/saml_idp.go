package access

import "strings"

// SAMLIdP is where a tenant's SAML identity provider answers, built on the
// external base URL. The IdP (samlidp) serves these URLs and the admin API
// shows them to the administrator who sets an application up: both take
// them from here, so what is shown is what is served.
type SAMLIdP struct {
	base string // publicURL + "/t/" + slug + "/saml"
}

// NewSAMLIdP returns the IdP URLs of the tenant with slug, on publicURL
// (scheme://host[:port], a trailing slash ignored).
func NewSAMLIdP(publicURL, slug string) SAMLIdP {
	return SAMLIdP{base: strings.TrimSuffix(publicURL, "/") + "/t/" + slug + "/saml"}
}

// EntityID is the IdP's entity id, which is also where its metadata lives
// (SAML metadata §4.1.1, the well-known location convention).
func (s SAMLIdP) EntityID() string { return s.Metadata() }

// Metadata is the URL of the IdP's metadata document.
func (s SAMLIdP) Metadata() string { return s.base + "/metadata" }

// SSO is the single sign-on endpoint, for the HTTP-Redirect and HTTP-POST
// bindings alike (SAML bindings §3.4, §3.5).
func (s SAMLIdP) SSO() string { return s.base + "/sso" }

// SLO is the single logout endpoint, for the HTTP-Redirect and HTTP-POST
// bindings alike (SAML profiles §4.4).
func (s SAMLIdP) SLO() string { return s.base + "/slo" }

// TestSignIn is the page where a signed-in user tries the sign-in to app
// and sees the response it would send, before posting it.
func (s SAMLIdP) TestSignIn(app AppID) string { return s.base + "/test/" + string(app) }
