package access

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// The OpenID Connect client side of an application of kind oidc: who the
// client is, where authorization responses may go, which grants and scopes
// it may use, how it authenticates at the token endpoint and how long its
// tokens live. This file holds the configuration, its rules and the client
// secrets; the protocol endpoints belong to the oidcop adapter.

// Client types (RFC 6749 §2.1).
const (
	ClientConfidential = "confidential"
	ClientPublic       = "public"
)

// Grant types a client may use. Never implicit or the resource owner's
// password (RFC 9700 §2.1.2, §2.4).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Token endpoint authentication methods (OIDC Core §9, RFC 7591 §2).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthNone              = "none" // public clients only, with PKCE
)

// Access token formats: a signed JWT (RFC 9068) or an opaque reference the
// resource server introspects (RFC 7662).
const (
	TokenFormatJWT    = "jwt"
	TokenFormatOpaque = "opaque"
)

// Scopes Tessera defines; others are the tenant's own API scopes.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeGroups        = "groups"
	ScopeOrganization  = "organization"
	ScopeOfflineAccess = "offline_access"
)

// The values each member accepts.
var (
	OIDCClientTypes    = []string{ClientConfidential, ClientPublic}
	OIDCGrantTypes     = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}
	OIDCAuthMethods    = []string{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthNone}
	OIDCStandardScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups, ScopeOrganization, ScopeOfflineAccess}
	AccessTokenFormats = []string{TokenFormatJWT, TokenFormatOpaque}
	// SigningAlgorithms sign a client's ID and access tokens: RS256, which
	// every relying party supports (OIDC Core §15.1), or ES256.
	SigningAlgorithms = []string{"RS256", "ES256"}
)

// Bounds of an OIDC client configuration.
const (
	MaxRedirectURIs          = 20
	MaxOIDCScopes            = 50
	MaxProfileClaims         = 50
	MaxRedirectURILength     = 2048
	MaxJWKSBytes             = 32 << 10
	MaxJWKSKeys              = 10
	MinAccessTokenLifetime   = 60
	MaxAccessTokenLifetime   = 86400
	MaxRefreshTokenLifetime  = 90 * 86400
	MinIDTokenLifetime       = 60
	MaxIDTokenLifetime       = 3600
	MaxSecretOverlapSeconds  = 7 * 86400 // how long a rotated secret may stay valid
	ClientSecretBytes        = 32        // 256 bits
	clientIDPrefix           = "cli"
	maxPresentedSecretLength = 512
)

// Errors about OIDC clients.
var (
	ErrOIDCNotConfigured = fmt.Errorf("the application has no OIDC client: %w", errkind.NotFound)
	ErrOIDCClientExists  = fmt.Errorf("the application has an OIDC client already: replace its settings with PUT, or delete it first: %w", errkind.Conflict)
	ErrNotOIDCApp        = fmt.Errorf("only an application of kind oidc has an OIDC client: %w", errkind.Invalid)
	ErrOIDCPublicClient  = fmt.Errorf("a public client has no secret: %w", errkind.Invalid)
	// ErrUnknownOIDCClient answers OIDCClientByID for a client id no
	// application of the tenant has.
	ErrUnknownOIDCClient = fmt.Errorf("no OIDC client has this client id: %w", errkind.NotFound)
	// ErrOIDCClientAuth is CheckOIDCClientSecret's one answer to an unknown
	// client, a wrong or expired secret, and a client that does not
	// authenticate with a secret: nothing tells them apart.
	ErrOIDCClientAuth = fmt.Errorf("client authentication failed: %w", errkind.Unauthenticated)
	errNoSecretDigest = errors.New("access: Service.SecretDigest is not set")
)

// OIDCClient is the OpenID Connect client configuration of an application
// of kind oidc.
type OIDCClient struct {
	Tenant tenant.ID
	App    AppID
	// ClientID is generated ("cli_..."), unique across tenants, and never
	// changes; a deleted client's id is never handed out again.
	ClientID string
	// Type is ClientConfidential or ClientPublic; left empty it is
	// confidential on creation and unchanged on update. It cannot change.
	Type string
	// RedirectURIs are compared with a request's redirect_uri as exact
	// strings (RFC 9700 §4.1.3); see RedirectURIAllowed. At least one with
	// the authorization_code grant.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string // the scopes the client may ask for
	// TokenEndpointAuthMethod is one of OIDCAuthMethods: none for public
	// clients, another for confidential ones. Left empty it takes the
	// type's default (client_secret_basic, none).
	TokenEndpointAuthMethod string
	// RequirePKCE refuses authorization requests without a code_challenge
	// (S256). Always true for public clients (RFC 9700 §2.1.1).
	RequirePKCE bool
	// JWKS (a JWK Set, RFC 7517 §5, stored normalised) or JWKSURI (https)
	// holds the public keys of a private_key_jwt client (RFC 7523 §2.2).
	JWKS    string
	JWKSURI string
	// AccessTokenFormat is TokenFormatJWT or TokenFormatOpaque.
	AccessTokenFormat string
	// IDTokenSignedResponseAlg is one of SigningAlgorithms (RFC 7591 §2).
	IDTokenSignedResponseAlg   string
	AccessTokenLifetimeSeconds int // 60..86400
	// RefreshTokenLifetimeSeconds bounds a refresh token's family from its
	// first issue, rotation included; 0 bounds it by the user's session
	// alone. 0..90 days.
	RefreshTokenLifetimeSeconds int
	IDTokenLifetimeSeconds      int  // 60..3600
	RequireConsent              bool // ask the user before the first grant (third-party applications)
	// BackChannelLogoutURI receives logout tokens (OIDC Back-Channel
	// Logout §2.2); https, optional. SessionRequired asks for the sid claim.
	BackChannelLogoutURI             string
	BackChannelLogoutSessionRequired bool
	// ProfileClaims are profile schema attributes released as claims of the
	// same name under the profile scope.
	ProfileClaims []string

	// Secret digests: HMAC-SHA256 under a key derived from the master key,
	// never the secrets. Only the store and this package read them; the
	// service hands out clients without them.
	SecretDigest          string
	PreviousSecretDigest  string    // the rotated-out secret, valid until PreviousSecretExpires
	PreviousSecretExpires time.Time // zero: no previous secret

	Version int64
	Created time.Time
	Updated time.Time
}

// DefaultOIDCClient returns the defaults of every member a caller may leave
// out: the authorization code grant with PKCE, the openid, profile and email
// scopes, JWT access tokens of 15 minutes, refresh tokens of 30 days and ID
// tokens of 5 minutes. Type and TokenEndpointAuthMethod stay empty (see
// OIDCClient).
func DefaultOIDCClient() OIDCClient {
	return OIDCClient{GrantTypes: []string{GrantAuthorizationCode}, Scopes: []string{ScopeOpenID, ScopeProfile, ScopeEmail},
		RequirePKCE: true, AccessTokenFormat: TokenFormatJWT, IDTokenSignedResponseAlg: "RS256", AccessTokenLifetimeSeconds: 900,
		RefreshTokenLifetimeSeconds: 30 * 86400, IDTokenLifetimeSeconds: 300}
}

// HasGrant reports whether the client may use grant.
func (c *OIDCClient) HasGrant(grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// HasScope reports whether the client may ask for scope.
func (c *OIDCClient) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// PKCERequired reports whether an authorization request of the client must
// carry a code_challenge.
func (c *OIDCClient) PKCERequired() bool { return c.RequirePKCE || c.Type == ClientPublic }

// RedirectURIAllowed reports whether a request's redirect_uri is one of the
// client's, compared as an exact string (RFC 9700 §2.1, §4.1.3): no prefix,
// no case folding, no normalisation. The one exception is the port of an
// http loopback redirect, which a native app picks at run time (RFC 8252
// §7.3).
func (c *OIDCClient) RedirectURIAllowed(uri string) bool { return uriAllowed(c.RedirectURIs, uri) }

// PostLogoutRedirectURIAllowed is RedirectURIAllowed for a logout
// request's post_logout_redirect_uri.
func (c *OIDCClient) PostLogoutRedirectURIAllowed(uri string) bool {
	return uriAllowed(c.PostLogoutRedirectURIs, uri)
}

func uriAllowed(registered []string, uri string) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	req, ok := loopbackURI(uri)
	if !ok {
		return false
	}
	for _, r := range registered {
		if reg, ok := loopbackURI(r); ok && reg == req {
			return true
		}
	}
	return false
}

// loopbackURI returns an http loopback URI without its port, for the
// comparison RFC 8252 §7.3 asks for; ok is false for any other URI.
func loopbackURI(raw string) (string, bool) {
	if len(raw) > MaxRedirectURILength || strings.ContainsFunc(raw, badURIChar) || strings.ContainsAny(raw, "#*") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Opaque != "" || !loopbackHost(u.Hostname()) ||
		!strings.HasPrefix(raw, "http://") {
		return "", false
	}
	if p := u.Port(); p != "" && strings.TrimLeft(p, "0123456789") != "" {
		return "", false
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + u.EscapedPath() + "?" + u.RawQuery, true
}

// loopbackHost reports whether host names the local machine in a way a
// native app can listen on (RFC 8252 §7.3, §8.3).
func loopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

var (
	// A private-use URI scheme is a reverse domain name (RFC 8252 §7.1).
	privateSchemePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$`)
	scopePattern         = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.:/-]{0,127}$`)
	// Schemes that run or embed content wherever they are followed.
	scriptSchemes = []string{"javascript", "vbscript", "data", "file", "blob", "about", "filesystem"}
	badURIChar    = func(r rune) bool { return r <= 0x20 || r >= 0x7f || r == '\\' }
)

// reservedClaims are claims the protocol sets itself (RFC 7519 §4.1, OIDC
// Core §2, §5.1, RFC 9068 §2.2, back-channel logout): a profile attribute of
// one of these names must never override them.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "auth_time", "nonce", "acr", "amr", "azp",
	"at_hash", "c_hash", "s_hash", "sid", "scope", "client_id", "cnf", "typ", "events", "name", "given_name", "family_name",
	"middle_name", "nickname", "preferred_username", "profile", "picture", "website", "email", "email_verified", "gender",
	"birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified", "address", "updated_at", "groups",
	"organization", "org_id", "roles", "app_roles"}

// checkRedirectURI checks a redirect or post-logout redirect URI. The
// authorization server sends codes and tokens to it through the browser, so
// it must be exactly where the client is: https; http only on the loopback
// interface of a native or development app (RFC 8252 §7.3); a private-use
// scheme only for a public native app (RFC 8252 §7.1); never a scheme that
// runs script, never user info (it hides the real host) or a fragment
// (RFC 6749 §3.1.2), never a wildcard (matching is exact).
func checkRedirectURI(field, raw string, public bool) error {
	switch {
	case raw == "":
		return errkind.Field(field, "is required")
	case len(raw) > MaxRedirectURILength:
		return errkind.Field(field, fmt.Sprintf("must be at most %d bytes", MaxRedirectURILength))
	case strings.ContainsFunc(raw, badURIChar):
		return errkind.Field(field, "must be printable ASCII without spaces or backslashes: percent-encode the rest")
	case strings.Contains(raw, "#"):
		return errkind.Field(field, "must not have a fragment (RFC 6749 §3.1.2)")
	case strings.Contains(raw, "*"):
		return errkind.Field(field, "must be one exact URI: redirect URIs are compared as whole strings, never as patterns or prefixes (RFC 9700 §4.1.3)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errkind.Field(field, "is not a URI")
	}
	if slices.Contains(scriptSchemes, u.Scheme) {
		return errkind.Field(field, fmt.Sprintf("must not be a %s: URI", u.Scheme))
	}
	if u.User != nil {
		return errkind.Field(field, "must not carry user info (user:password@)")
	}
	switch u.Scheme {
	case "https":
		if u.Opaque != "" || u.Hostname() == "" {
			return errkind.Field(field, "must be an absolute URI with a host")
		}
	case "http":
		if u.Opaque != "" || !loopbackHost(u.Hostname()) {
			return errkind.Field(field, "must be https; http only for loopback redirects of native and development apps "+
				"(http://127.0.0.1, http://[::1] or http://localhost, any port; RFC 8252 §7.3)")
		}
		if p := u.Port(); p != "" && strings.TrimLeft(p, "0123456789") != "" {
			return errkind.Field(field, "has a port that is not a number")
		}
	case "":
		return errkind.Field(field, "must be an absolute URI")
	default:
		switch {
		case !public:
			return errkind.Field(field, "must be https (a private-use scheme is for public native clients only)")
		case !privateSchemePattern.MatchString(u.Scheme):
			return errkind.Field(field, "a private-use scheme must be a reverse domain name such as com.example.app (RFC 8252 §7.1)")
		case u.Opaque != "" || !strings.HasPrefix(u.Path, "/"):
			return errkind.Field(field, "must be written scheme:/path, such as com.example.app:/callback (RFC 8252 §7.1)")
		}
	}
	return nil
}

// checkServerURL checks a URL Tessera itself calls (jwks_uri, the
// back-channel logout endpoint): https, a host that is not obviously this
// machine or a private network. The caller must check the address it
// resolves to again when it connects (DNS can point anywhere).
func checkServerURL(field, raw string) error {
	switch {
	case len(raw) > MaxRedirectURILength:
		return errkind.Field(field, fmt.Sprintf("must be at most %d bytes", MaxRedirectURILength))
	case strings.ContainsFunc(raw, badURIChar):
		return errkind.Field(field, "must be printable ASCII without spaces or backslashes: percent-encode the rest")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errkind.Field(field, "is not a URL")
	case u.Scheme != "https" || u.Opaque != "" || u.Hostname() == "":
		return errkind.Field(field, "must be an absolute https URL")
	case u.User != nil:
		return errkind.Field(field, "must not carry user info (user:password@)")
	case strings.Contains(raw, "#"):
		return errkind.Field(field, "must not have a fragment")
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return errkind.Field(field, "must not point to this machine")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() ||
			ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
			return errkind.Field(field, "must not point to a loopback, private or link-local address")
		}
	}
	return nil
}

// jwkPrivateMembers are the JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
var jwkPrivateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// jwkAlgs are the signature algorithms a client's key may declare.
var jwkAlgs = map[string][]string{"RSA": {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, "EC": {"ES256"}}

// parseJWKS checks a JWK Set of a client's public signing keys: 1 to 10
// keys, each RSA of 2048 to 8192 bits or EC P-256 with a point on the curve,
// meant for signatures, with no private or symmetric part, key ids unique.
// It returns the set re-encoded (members sorted, white space dropped, a
// duplicate member's last value kept, as every JSON reader would).
func parseJWKS(field, text string) (string, error) {
	if len(text) > MaxJWKSBytes {
		return "", errkind.Field(field, fmt.Sprintf("must be at most %d bytes", MaxJWKSBytes))
	}
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(text))
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return "", errkind.Field(field, `must be a JWK Set: {"keys": [...]} (RFC 7517 §5)`)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", errkind.Field(field, "must hold exactly one JSON object")
	}
	var keys []map[string]json.RawMessage
	if err := json.Unmarshal(doc["keys"], &keys); err != nil || keys == nil {
		return "", errkind.Field(field+".keys", "must be an array of JWK objects (RFC 7517 §5)")
	}
	switch {
	case len(keys) == 0:
		return "", errkind.Field(field+".keys", "must hold at least one key")
	case len(keys) > MaxJWKSKeys:
		return "", errkind.Field(field+".keys", fmt.Sprintf("at most %d keys", MaxJWKSKeys))
	}
	var errs []error
	kids := map[string]bool{}
	for i, k := range keys {
		f := fmt.Sprintf("%s.keys.%d", field, i)
		if err := checkJWK(f, k); err != nil {
			errs = append(errs, err)
			continue
		}
		if raw, ok := k["kid"]; ok {
			var kid string
			if json.Unmarshal(raw, &kid) != nil || kid == "" || len(kid) > 256 {
				errs = append(errs, errkind.Field(f+".kid", "must be a string of 1 to 256 characters"))
			} else if kids[kid] {
				errs = append(errs, errkind.Field(f+".kid", "is used by another key of the set"))
			}
			kids[kid] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	doc["keys"], _ = json.Marshal(keys)
	out, err := json.Marshal(doc)
	if err != nil {
		return "", errkind.Field(field, "cannot be re-encoded")
	}
	return string(out), nil
}

// checkJWK checks one public key of a JWK Set.
func checkJWK(f string, k map[string]json.RawMessage) error {
	for _, m := range jwkPrivateMembers {
		if _, ok := k[m]; ok {
			return errkind.Field(f, fmt.Sprintf("holds private or symmetric key material (%q): register public keys only", m))
		}
	}
	str := func(name string) (string, bool) {
		raw, ok := k[name]
		if !ok {
			return "", false
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	b64 := func(name string) ([]byte, bool) {
		s, ok := str(name)
		if !ok {
			return nil, false
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		return b, err == nil && len(b) > 0
	}
	kty, _ := str("kty")
	if _, ok := jwkAlgs[kty]; !ok {
		return errkind.Field(f+".kty", "must be RSA or EC")
	}
	if _, ok := k["use"]; ok {
		if use, _ := str("use"); use != "sig" {
			return errkind.Field(f+".use", `must be "sig": these keys verify the client's signatures`)
		}
	}
	if _, ok := k["alg"]; ok {
		if alg, _ := str("alg"); !slices.Contains(jwkAlgs[kty], alg) {
			return errkind.Field(f+".alg", "must be one of "+strings.Join(jwkAlgs[kty], ", ")+" for a key of type "+kty)
		}
	}
	switch kty {
	case "RSA":
		n, okN := b64("n")
		e, okE := b64("e")
		if !okN || !okE {
			return errkind.Field(f, "an RSA key needs n and e, base64url without padding")
		}
		if bits := new(big.Int).SetBytes(n).BitLen(); bits < 2048 || bits > 8192 {
			return errkind.Field(f+".n", fmt.Sprintf("an RSA key must have 2048 to 8192 bits, not %d", bits))
		}
		// A tiny or even exponent makes signatures forgeable or the key
		// unusable; 65537 is what everyone uses.
		if exp := new(big.Int).SetBytes(e); len(e) > 4 || exp.Cmp(big.NewInt(3)) < 0 || exp.Bit(0) == 0 {
			return errkind.Field(f+".e", "must be an odd public exponent of at least 3 that fits 32 bits")
		}
	case "EC":
		if crv, _ := str("crv"); crv != "P-256" {
			return errkind.Field(f+".crv", "must be P-256")
		}
		x, okX := b64("x")
		y, okY := b64("y")
		if !okX || !okY || len(x) != 32 || len(y) != 32 {
			return errkind.Field(f, "an EC P-256 key needs x and y of 32 bytes each, base64url without padding")
		}
		if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...)); err != nil {
			return errkind.Field(f, "is not a point on the P-256 curve")
		}
	}
	return nil
}

// validateOIDC checks c, normalises its JWKS and fills the defaults of the
// type and the authentication method. schema is the tenant's profile
// schema, for profile claims.
func validateOIDC(c *OIDCClient, schema *user.Schema) error {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, errkind.Field(field, msg)) }
	public := c.Type == ClientPublic

	if !slices.Contains(OIDCClientTypes, c.Type) {
		bad("client_type", "must be confidential or public")
	}

	seen := map[string]bool{}
	for i, g := range c.GrantTypes {
		f := fmt.Sprintf("grant_types.%d", i)
		switch {
		case !slices.Contains(OIDCGrantTypes, g):
			bad(f, "must be authorization_code, refresh_token or client_credentials (implicit and password grants are not offered)")
		case seen[g]:
			bad(f, "is listed twice")
		case g == GrantClientCredentials && public:
			// A public client cannot keep a credential, so anyone could
			// take its identity (RFC 6749 §4.4).
			bad(f, "client_credentials needs a confidential client")
		}
		seen[g] = true
	}
	switch {
	case len(c.GrantTypes) == 0:
		bad("grant_types", "needs at least one grant type")
	case c.HasGrant(GrantRefreshToken) && !c.HasGrant(GrantAuthorizationCode):
		bad("grant_types", "refresh_token needs authorization_code: refresh tokens come from an authorization")
	}

	for _, list := range []struct {
		field string
		uris  []string
	}{{"redirect_uris", c.RedirectURIs}, {"post_logout_redirect_uris", c.PostLogoutRedirectURIs}} {
		if len(list.uris) > MaxRedirectURIs {
			bad(list.field, fmt.Sprintf("at most %d URIs", MaxRedirectURIs))
			continue
		}
		seen := map[string]bool{}
		for i, u := range list.uris {
			f := fmt.Sprintf("%s.%d", list.field, i)
			if err := checkRedirectURI(f, u, public); err != nil {
				errs = append(errs, err)
			} else if seen[u] {
				bad(f, "is listed twice")
			}
			seen[u] = true
		}
	}
	if c.HasGrant(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		bad("redirect_uris", "the authorization_code grant needs at least one redirect URI")
	}

	if len(c.Scopes) > MaxOIDCScopes {
		bad("scopes", fmt.Sprintf("at most %d scopes", MaxOIDCScopes))
	}
	seen = map[string]bool{}
	for i, s := range c.Scopes {
		f := fmt.Sprintf("scopes.%d", i)
		switch {
		case !scopePattern.MatchString(s):
			bad(f, "must be a letter then up to 127 letters, digits or _ . : / -")
		case seen[s]:
			bad(f, "is listed twice")
		case s == ScopeOfflineAccess && !c.HasGrant(GrantRefreshToken):
			bad(f, "offline_access asks for refresh tokens: add the refresh_token grant")
		}
		seen[s] = true
	}

	switch m := c.TokenEndpointAuthMethod; {
	case !slices.Contains(OIDCAuthMethods, m):
		bad("token_endpoint_auth_method", "must be client_secret_basic, client_secret_post, private_key_jwt or none")
	case public && m != AuthNone:
		bad("token_endpoint_auth_method", "a public client holds no credential: its method is none")
	case !public && m == AuthNone:
		bad("token_endpoint_auth_method", "a confidential client authenticates: client_secret_basic, client_secret_post or private_key_jwt")
	}
	if public && !c.RequirePKCE {
		bad("require_pkce", "public clients always use PKCE (RFC 9700 §2.1.1)")
	}

	if c.JWKS != "" {
		if c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
			bad("jwks", "is only for the private_key_jwt method")
		} else if normal, err := parseJWKS("jwks", c.JWKS); err != nil {
			errs = append(errs, err)
		} else {
			c.JWKS = normal
		}
	}
	if c.JWKSURI != "" {
		if c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
			bad("jwks_uri", "is only for the private_key_jwt method")
		} else if err := checkServerURL("jwks_uri", c.JWKSURI); err != nil {
			errs = append(errs, err)
		}
	}
	if c.TokenEndpointAuthMethod == AuthPrivateKeyJWT {
		switch {
		case c.JWKS == "" && c.JWKSURI == "":
			bad("jwks", "private_key_jwt needs the client's public keys: jwks or jwks_uri")
		case c.JWKS != "" && c.JWKSURI != "":
			bad("jwks_uri", "give jwks or jwks_uri, not both (RFC 7591 §2)")
		}
	}

	if !slices.Contains(AccessTokenFormats, c.AccessTokenFormat) {
		bad("access_token_format", "must be jwt or opaque")
	}
	if !slices.Contains(SigningAlgorithms, c.IDTokenSignedResponseAlg) {
		bad("id_token_signed_response_alg", "must be RS256 or ES256")
	}
	if c.AccessTokenLifetimeSeconds < MinAccessTokenLifetime || c.AccessTokenLifetimeSeconds > MaxAccessTokenLifetime {
		bad("access_token_lifetime_seconds", fmt.Sprintf("must be between %d and %d", MinAccessTokenLifetime, MaxAccessTokenLifetime))
	}
	if c.RefreshTokenLifetimeSeconds < 0 || c.RefreshTokenLifetimeSeconds > MaxRefreshTokenLifetime {
		bad("refresh_token_lifetime_seconds", fmt.Sprintf("must be between 0 (the session's) and %d (90 days)", MaxRefreshTokenLifetime))
	}
	if c.IDTokenLifetimeSeconds < MinIDTokenLifetime || c.IDTokenLifetimeSeconds > MaxIDTokenLifetime {
		bad("id_token_lifetime_seconds", fmt.Sprintf("must be between %d and %d", MinIDTokenLifetime, MaxIDTokenLifetime))
	}

	if c.BackChannelLogoutURI != "" {
		if err := checkServerURL("backchannel_logout_uri", c.BackChannelLogoutURI); err != nil {
			errs = append(errs, err)
		}
	} else if c.BackChannelLogoutSessionRequired {
		bad("backchannel_logout_session_required", "needs a backchannel_logout_uri")
	}

	if len(c.ProfileClaims) > MaxProfileClaims {
		bad("profile_claims", fmt.Sprintf("at most %d claims", MaxProfileClaims))
	} else if len(c.ProfileClaims) > 0 && !c.HasScope(ScopeProfile) {
		bad("profile_claims", "are released under the profile scope, which the client may not ask for")
	}
	seen = map[string]bool{}
	for i, name := range c.ProfileClaims {
		f := fmt.Sprintf("profile_claims.%d", i)
		switch {
		case !samlAttrNamePattern.MatchString(name):
			bad(f, "must be the name of a profile schema attribute")
		case slices.Contains(reservedClaims, name):
			bad(f, fmt.Sprintf("%q is a claim the protocol sets itself", name))
		case seen[name]:
			bad(f, "is listed twice")
		case schema != nil && !slices.ContainsFunc(schema.Attributes, func(a user.AttributeDef) bool { return a.Name == name }):
			bad(f, fmt.Sprintf("the profile schema has no attribute %q", name))
		}
		seen[name] = true
	}
	return errors.Join(errs...)
}

// oidcDefaults fills the members a caller may leave empty.
func oidcDefaults(c *OIDCClient, currentType string) {
	if c.Type == "" {
		c.Type = currentType
	}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = AuthClientSecretBasic
		if c.Type == ClientPublic {
			c.TokenEndpointAuthMethod = AuthNone
		}
	}
}

// cloneOIDC copies c so that the caller's slices are never shared.
func cloneOIDC(c OIDCClient) OIDCClient {
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.Scopes = slices.Clone(c.Scopes)
	c.ProfileClaims = slices.Clone(c.ProfileClaims)
	return c
}

// withoutDigests is c as the service hands it out.
func (c *OIDCClient) withoutDigests() *OIDCClient {
	out := cloneOIDC(*c)
	out.SecretDigest, out.PreviousSecretDigest = "", ""
	return &out
}

// sameOIDC reports whether a and b have the same settings (identity,
// secrets and bookkeeping aside).
func sameOIDC(a, b *OIDCClient) bool {
	x, y := *a, *b
	for _, c := range []*OIDCClient{&x, &y} {
		c.Tenant, c.App, c.ClientID, c.Version, c.Created, c.Updated = "", "", "", 0, time.Time{}, time.Time{}
		c.SecretDigest, c.PreviousSecretDigest, c.PreviousSecretExpires = "", "", time.Time{}
		for _, l := range []*[]string{&c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.GrantTypes, &c.Scopes, &c.ProfileClaims} {
			if len(*l) == 0 {
				*l = nil
			}
		}
	}
	return reflect.DeepEqual(x, y)
}

// oidcSummary is the audit record of a client's settings: no secret or
// digest, and of an inline JWKS its key count and SHA-256 only.
func oidcSummary(c *OIDCClient) map[string]any {
	d := map[string]any{"version": c.Version, "client_id": c.ClientID, "client_type": c.Type,
		"redirect_uris": c.RedirectURIs, "post_logout_redirect_uris": c.PostLogoutRedirectURIs, "grant_types": c.GrantTypes,
		"scopes": c.Scopes, "token_endpoint_auth_method": c.TokenEndpointAuthMethod, "require_pkce": c.RequirePKCE,
		"jwks": nil, "jwks_uri": c.JWKSURI, "access_token_format": c.AccessTokenFormat,
		"id_token_signed_response_alg": c.IDTokenSignedResponseAlg, "access_token_lifetime_seconds": c.AccessTokenLifetimeSeconds, "refresh_token_lifetime_seconds": c.RefreshTokenLifetimeSeconds,
		"id_token_lifetime_seconds": c.IDTokenLifetimeSeconds, "require_consent": c.RequireConsent,
		"backchannel_logout_uri": c.BackChannelLogoutURI, "backchannel_logout_session_required": c.BackChannelLogoutSessionRequired,
		"profile_claims": c.ProfileClaims}
	if c.JWKS != "" {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		_ = json.Unmarshal([]byte(c.JWKS), &set)
		sum := sha256.Sum256([]byte(c.JWKS))
		d["jwks"] = map[string]any{"keys": len(set.Keys), "sha256": hex.EncodeToString(sum[:])}
	}
	return d
}

// newClientSecret returns a fresh 256-bit secret, base64url encoded.
func newClientSecret() string {
	b := make([]byte, ClientSecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secretDigest binds a secret's digest to its client, so a digest copied
// to another client's row matches nothing there.
func (s *Service) secretDigest(clientID, secret string) string {
	return s.SecretDigest(clientID + "\x00" + secret)
}

// oidcApp locks an application of kind oidc for the transaction.
func (s *Service) oidcApp(ctx context.Context, t tenant.ID, app AppID) (*Application, error) {
	a, err := s.lockedApplication(ctx, t, app)
	if err != nil {
		return nil, err
	}
	if a.Kind != KindOIDC {
		return nil, fmt.Errorf("application %s is of kind %s; %w", app, a.Kind, ErrNotOIDCApp)
	}
	return a, nil
}

// profileSchemaFor returns the profile schema when c names profile claims.
func (s *Service) profileSchemaFor(ctx context.Context, t tenant.ID, c *OIDCClient) (*user.Schema, error) {
	return s.profileSchema(ctx, t, len(c.ProfileClaims) > 0)
}

// OIDCClient returns an application's OIDC client configuration, without
// secret digests. Like the application, every scope of the tenant may read
// it.
func (s *Service) OIDCClient(ctx context.Context, sc tenant.Scope, app AppID) (*OIDCClient, error) {
	if _, err := s.Store.Application(ctx, sc.Tenant, app); err != nil {
		return nil, err
	}
	c, err := s.Store.OIDCClient(ctx, sc.Tenant, app)
	if err != nil {
		return nil, err
	}
	return c.withoutDigests(), nil
}

// canIssueSecrets admits a change that issues a client secret: tenant-wide
// callers only, and a service able to digest the secret.
func (s *Service) canIssueSecrets(sc tenant.Scope) error {
	if !sc.TenantWide() {
		return errOrgScoped
	}
	if s.SecretDigest == nil {
		return errNoSecretDigest
	}
	return nil
}

// CreateOIDCClient gives an application of kind oidc its OIDC client: a new
// client id and, for a confidential client, a new secret, returned here and
// never again (only its digest is kept).
func (s *Service) CreateOIDCClient(ctx context.Context, sc tenant.Scope, app AppID, cfg OIDCClient) (*OIDCClient, string, error) {
	if err := s.canIssueSecrets(sc); err != nil {
		return nil, "", err
	}
	now := s.Now()
	c := cloneOIDC(cfg)
	c.Tenant, c.App = sc.Tenant, app
	c.SecretDigest, c.PreviousSecretDigest, c.PreviousSecretExpires = "", "", time.Time{}
	oidcDefaults(&c, ClientConfidential)
	var secret string
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.oidcApp(ctx, sc.Tenant, app); err != nil {
			return err
		}
		schema, err := s.profileSchemaFor(ctx, sc.Tenant, &c)
		if err != nil {
			return err
		}
		if err := validateOIDC(&c, schema); err != nil {
			return err
		}
		switch _, err := s.Store.OIDCClient(ctx, sc.Tenant, app); {
		case err == nil:
			return ErrOIDCClientExists
		case !errors.Is(err, ErrOIDCNotConfigured):
			return err
		}
		c.ClientID = id.New(clientIDPrefix, now)
		if c.Type == ClientConfidential {
			secret = newClientSecret()
			c.SecretDigest = s.secretDigest(c.ClientID, secret)
		}
		c.Version, c.Created, c.Updated = 1, now, now
		if err := s.Store.CreateOIDCClient(ctx, &c); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "application.oidc_client_created", "application",
			string(app), oidcSummary(&c)))
	})
	if err != nil {
		return nil, "", fmt.Errorf("create oidc client of %s: %w", app, err)
	}
	return c.withoutDigests(), secret, nil
}

// UpdateOIDCClient replaces the settings of an application's OIDC client;
// its client id, type and secrets stay. ifVersion, when non-zero, must
// match the current version. Settings equal to the current ones change
// nothing.
func (s *Service) UpdateOIDCClient(ctx context.Context, sc tenant.Scope, app AppID, cfg OIDCClient, ifVersion int64) (*OIDCClient, error) {
	if !sc.TenantWide() {
		return nil, errOrgScoped
	}
	now := s.Now()
	var out *OIDCClient
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.oidcApp(ctx, sc.Tenant, app); err != nil {
			return err
		}
		old, err := s.Store.OIDCClient(ctx, sc.Tenant, app)
		if err != nil {
			return err
		}
		c := cloneOIDC(cfg)
		c.Tenant, c.App = sc.Tenant, app
		if c.Type != "" && c.Type != old.Type {
			// A confidential client turned public would keep a secret it
			// can no longer protect; a public one turned confidential would
			// have none. A new client is the honest way.
			return errkind.Field("client_type", fmt.Sprintf("cannot change from %s: delete the client and create it again", old.Type))
		}
		oidcDefaults(&c, old.Type)
		schema, err := s.profileSchemaFor(ctx, sc.Tenant, &c)
		if err != nil {
			return err
		}
		if err := validateOIDC(&c, schema); err != nil {
			return err
		}
		if err := errkind.CheckVersion(old.Version, ifVersion); err != nil {
			return err
		}
		c.ClientID, c.SecretDigest, c.PreviousSecretDigest, c.PreviousSecretExpires =
			old.ClientID, old.SecretDigest, old.PreviousSecretDigest, old.PreviousSecretExpires
		if sameOIDC(old, &c) {
			out = old
			return nil
		}
		c.Version, c.Created, c.Updated = old.Version+1, old.Created, now
		if err := s.Store.UpdateOIDCClient(ctx, &c); err != nil {
			return err
		}
		out = &c
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "application.oidc_client_updated", "application",
			string(app), oidcSummary(&c)))
	})
	if err != nil {
		return nil, fmt.Errorf("update oidc client of %s: %w", app, err)
	}
	return out.withoutDigests(), nil
}

// RotateOIDCClientSecret gives a confidential client a new secret, returned
// here and never again. The old secret stays valid for previousValidSeconds
// more (0 to 7 days: the time to deploy the new one without downtime), then
// is refused; a secret rotated out earlier is refused at once.
func (s *Service) RotateOIDCClientSecret(ctx context.Context, sc tenant.Scope, app AppID, previousValidSeconds int) (*OIDCClient, string, error) {
	if err := s.canIssueSecrets(sc); err != nil {
		return nil, "", err
	}
	now := s.Now()
	var out OIDCClient
	secret := newClientSecret()
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.oidcApp(ctx, sc.Tenant, app); err != nil {
			return err
		}
		old, err := s.Store.OIDCClient(ctx, sc.Tenant, app)
		if err != nil {
			return err
		}
		if old.Type != ClientConfidential {
			return ErrOIDCPublicClient
		}
		if previousValidSeconds < 0 || previousValidSeconds > MaxSecretOverlapSeconds {
			return errkind.Field("previous_secret_valid_seconds", fmt.Sprintf("must be between 0 and %d (7 days)", MaxSecretOverlapSeconds))
		}
		out = cloneOIDC(*old)
		out.PreviousSecretDigest, out.PreviousSecretExpires = "", time.Time{}
		if previousValidSeconds > 0 && old.SecretDigest != "" {
			out.PreviousSecretDigest = old.SecretDigest
			out.PreviousSecretExpires = now.Add(time.Duration(previousValidSeconds) * time.Second)
		}
		out.SecretDigest = s.secretDigest(old.ClientID, secret)
		out.Version, out.Updated = old.Version+1, now
		if err := s.Store.UpdateOIDCClient(ctx, &out); err != nil {
			return err
		}
		var until any
		if !out.PreviousSecretExpires.IsZero() {
			until = out.PreviousSecretExpires.UTC().Format(time.RFC3339)
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), now, "application.oidc_client_secret_rotated", "application",
			string(app), map[string]any{"client_id": out.ClientID, "version": out.Version,
				"previous_secret_valid_seconds": previousValidSeconds, "previous_secret_expires_at": until}))
	})
	if err != nil {
		return nil, "", fmt.Errorf("rotate oidc client secret of %s: %w", app, err)
	}
	return out.withoutDigests(), secret, nil
}

// DeleteOIDCClient removes an application's OIDC client; the application
// stays, and its client id is never used again.
func (s *Service) DeleteOIDCClient(ctx context.Context, sc tenant.Scope, app AppID) error {
	if !sc.TenantWide() {
		return errOrgScoped
	}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.lockedApplication(ctx, sc.Tenant, app); err != nil {
			return err
		}
		c, err := s.Store.OIDCClient(ctx, sc.Tenant, app)
		if err != nil {
			return err
		}
		if err := s.Store.DeleteOIDCClient(ctx, sc.Tenant, app); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "application.oidc_client_deleted", "application",
			string(app), map[string]any{"client_id": c.ClientID}))
	})
	if err != nil {
		return fmt.Errorf("delete oidc client of %s: %w", app, err)
	}
	return nil
}

// OIDCClientByID finds the application whose client has clientID, within
// tenant t only: the provider's lookup of a request's client_id. It does
// not judge the application's status or anyone's access; the caller does.
func (s *Service) OIDCClientByID(ctx context.Context, t tenant.ID, clientID string) (*Application, *OIDCClient, error) {
	a, c, err := s.oidcClientByID(ctx, t, clientID)
	if err != nil {
		return nil, nil, err
	}
	return a, c.withoutDigests(), nil
}

func (s *Service) oidcClientByID(ctx context.Context, t tenant.ID, clientID string) (*Application, *OIDCClient, error) {
	if !id.Valid(clientIDPrefix, clientID) {
		return nil, nil, ErrUnknownOIDCClient
	}
	c, err := s.Store.OIDCClientByClientID(ctx, t, clientID)
	return withApp(ctx, s, t, c, err, ErrOIDCNotConfigured, ErrUnknownOIDCClient)
}

// CheckOIDCClientSecret authenticates a client by its secret, for the token
// endpoint's client_secret_basic and client_secret_post (the caller checks
// the method used is the client's). The secret matches the current one, or
// the previous one until it expires; comparisons are of HMAC digests in
// constant time. An unknown client, a wrong or expired secret and a client
// without a secret all answer ErrOIDCClientAuth. Like OIDCClientByID it does
// not judge the application's status.
func (s *Service) CheckOIDCClientSecret(ctx context.Context, t tenant.ID, clientID, secret string) (*Application, *OIDCClient, error) {
	if s.SecretDigest == nil {
		return nil, nil, errNoSecretDigest
	}
	if len(secret) > maxPresentedSecretLength {
		secret = ""
	}
	// Digest first, whatever follows, so an unknown client costs the same.
	presented := []byte(s.secretDigest(clientID, secret))
	a, c, err := s.oidcClientByID(ctx, t, clientID)
	if errors.Is(err, ErrUnknownOIDCClient) {
		return nil, nil, ErrOIDCClientAuth
	}
	if err != nil {
		return nil, nil, err
	}
	current := hmac.Equal(presented, []byte(c.SecretDigest))
	previous := hmac.Equal(presented, []byte(c.PreviousSecretDigest)) && s.Now().Before(c.PreviousSecretExpires)
	usesSecret := c.Type == ClientConfidential && c.SecretDigest != "" &&
		(c.TokenEndpointAuthMethod == AuthClientSecretBasic || c.TokenEndpointAuthMethod == AuthClientSecretPost)
	if secret == "" || !usesSecret || !(current || previous) {
		return nil, nil, ErrOIDCClientAuth
	}
	return a, c.withoutDigests(), nil
}
