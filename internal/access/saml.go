package access

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// The SAML service-provider side of an application of kind saml: where its
// assertions go, what they say and how they are protected. This file holds
// the configuration and its rules only; metadata XML and the protocol belong
// to the samlidp adapter.

// SAML 2.0 bindings (SAML bindings §3.4 HTTP-Redirect, §3.5 HTTP-POST).
const (
	BindingHTTPPost     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	BindingHTTPRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
)

// Name identifier formats (SAML core §8.3).
const (
	NameIDFormatEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDFormatUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDFormatPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDFormatTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
)

// NameIDFormats are the name identifier formats a SAML application may ask for.
var NameIDFormats = []string{NameIDFormatEmail, NameIDFormatUnspecified, NameIDFormatPersistent, NameIDFormatTransient}

// Where a name identifier or an attribute takes its value from. Besides
// these, SourceAttributePrefix + a profile schema attribute name.
const (
	SourceEmail        = "email"
	SourceUsername     = "username"
	SourcePersistent   = "persistent" // a pairwise identifier per user and application
	SourceTransient    = "transient"  // a new identifier per assertion
	SourceGivenName    = "given_name"
	SourceFamilyName   = "family_name"
	SourceDisplayName  = "display_name"
	SourcePhone        = "phone"
	SourceLocale       = "locale"
	SourceGroups       = "groups"
	SourceAppRoles     = "app_roles"
	SourceOrganization = "organization"

	SourceAttributePrefix = "attribute:"
)

// NameIDSources and AttributeSources are the fixed sources each accepts.
var (
	NameIDSources    = []string{SourceEmail, SourceUsername, SourcePersistent, SourceTransient}
	AttributeSources = []string{SourceEmail, SourceUsername, SourceGivenName, SourceFamilyName, SourceDisplayName,
		SourcePhone, SourceLocale, SourceGroups, SourceAppRoles, SourceOrganization}
)

// Signature algorithms of responses and assertions.
const (
	SignatureRSASHA256 = "rsa-sha256"
	SignatureRSASHA1   = "rsa-sha1" // only with AllowSHA1: SHA-1 signatures can be forged
)

// Bounds of a SAML configuration.
const (
	MaxEntityIDLength   = 1024 // SAML core §8.3.6
	MaxRelayStateLength = 80   // bytes; SAML bindings §3.4.3 and §3.5.3
	maxEndpointURL      = 2048
	maxACS              = 32
	maxSAMLAttributes   = 100
	maxAttributeName    = 256
	maxCertificatePEM   = 16 << 10
)

// Errors about SAML configuration.
var (
	ErrSAMLNotConfigured = fmt.Errorf("the application has no SAML configuration: %w", errkind.NotFound)
	ErrSAMLEntityIDTaken = fmt.Errorf("another SAML application of this tenant already has this entity id: %w", errkind.Conflict)
	ErrNotSAMLApp        = fmt.Errorf("only an application of kind saml has a SAML configuration: %w", errkind.Invalid)
	// ErrUnknownSAMLEntity answers AppBySAMLEntityID for an entity id no
	// application of the tenant has.
	ErrUnknownSAMLEntity = fmt.Errorf("no SAML application has this entity id: %w", errkind.NotFound)
)

// ACS is an assertion consumer service endpoint of the service provider
// (SAML metadata §2.4.4.1: an IndexedEndpointType).
type ACS struct {
	Index   int // 0..65535, unique
	URL     string
	Binding string // BindingHTTPPost
	Default bool
}

// SAMLEndpoint is a single logout endpoint.
type SAMLEndpoint struct {
	URL     string
	Binding string // BindingHTTPPost or BindingHTTPRedirect
}

// SAMLAttribute is one attribute statement member of the assertions.
type SAMLAttribute struct {
	Name         string // the SAML attribute Name, unique
	FriendlyName string
	Source       string // one of AttributeSources, or SourceAttributePrefix + name
}

// SAMLConfig is the service-provider configuration of an application of
// kind saml.
type SAMLConfig struct {
	Tenant   tenant.ID
	App      AppID
	EntityID string // unique per tenant among SAML applications
	ACS      []ACS
	SLO      *SAMLEndpoint // nil: no single logout
	// NameIDFormat is one of NameIDFormats; NameIDSource one of
	// NameIDSources or SourceAttributePrefix + a profile attribute.
	NameIDFormat string
	NameIDSource string
	Attributes   []SAMLAttribute
	// At least one of the response and the assertion is signed.
	SignResponse       bool
	SignAssertion      bool
	SignatureAlgorithm string
	EncryptAssertion   bool
	// SPCertificate is the service provider's X.509 certificate in PEM:
	// assertions are encrypted to it and signed requests verified with it.
	SPCertificate            string
	WantSignedRequests       bool
	ClockSkewSeconds         int // 0..300
	AssertionLifetimeSeconds int // 60..3600
	RelayStateDefault        string
	AllowInsecureACS         bool // http endpoints, for development only
	AllowSHA1                bool
	Version                  int64
	Created                  time.Time
	Updated                  time.Time
}

// DefaultSAMLConfig returns the defaults of every member a caller may leave
// out: both signatures, RSA-SHA256, 60 s of clock skew, 5 minute assertions,
// email addresses as name identifiers.
func DefaultSAMLConfig() SAMLConfig {
	return SAMLConfig{NameIDFormat: NameIDFormatEmail, NameIDSource: SourceEmail, SignResponse: true, SignAssertion: true,
		SignatureAlgorithm: SignatureRSASHA256, ClockSkewSeconds: 60, AssertionLifetimeSeconds: 300}
}

// DefaultNameIDSource is the source that suits a name identifier format:
// persistent and transient identifiers are generated, others are the email.
func DefaultNameIDSource(format string) string {
	switch format {
	case NameIDFormatPersistent:
		return SourcePersistent
	case NameIDFormatTransient:
		return SourceTransient
	}
	return SourceEmail
}

// DefaultACS is the endpoint to use when a request names none: the one
// marked default, else the lowest index (SAML metadata §2.2.3).
func (c *SAMLConfig) DefaultACS() ACS {
	var best ACS
	for i, a := range c.ACS {
		if a.Default {
			return a
		}
		if i == 0 || a.Index < best.Index {
			best = a
		}
	}
	return best
}

// ACSByIndex returns the endpoint with index i.
func (c *SAMLConfig) ACSByIndex(i int) (ACS, bool) {
	for _, a := range c.ACS {
		if a.Index == i {
			return a, true
		}
	}
	return ACS{}, false
}

// ACSByURL returns the endpoint whose URL is exactly u: an AuthnRequest's
// AssertionConsumerServiceURL must be one of the configured ones, compared
// as strings, never by prefix.
func (c *SAMLConfig) ACSByURL(u string) (ACS, bool) {
	for _, a := range c.ACS {
		if a.URL == u {
			return a, true
		}
	}
	return ACS{}, false
}

// Certificate parses SPCertificate; nil when there is none.
func (c *SAMLConfig) Certificate() (*x509.Certificate, error) {
	if c.SPCertificate == "" {
		return nil, nil
	}
	block, _ := pem.Decode([]byte(c.SPCertificate))
	if block == nil {
		return nil, errors.New("sp certificate is not PEM")
	}
	return x509.ParseCertificate(block.Bytes)
}

var (
	samlAttrNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`) // user.Schema's attribute names
	controlChar         = func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
)

// checkEndpointURL checks a URL the IdP sends assertions or logout messages
// to, through the user's browser. A javascript: or data: URL would run in
// the IdP's origin (CVE-2023-45683); user info and fragments have no place in
// an endpoint and hide where it really points.
func checkEndpointURL(field, raw string, allowHTTP bool) error {
	if raw == "" {
		return errkind.Field(field, "is required")
	}
	if len(raw) > maxEndpointURL {
		return errkind.Field(field, fmt.Sprintf("must be at most %d bytes", maxEndpointURL))
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= 0x20 || r >= 0x7f || r == '\\' }) {
		return errkind.Field(field, "must be printable ASCII without spaces or backslashes: percent-encode the rest")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errkind.Field(field, "is not a URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return errkind.Field(field, "must be an https URL (http only with allow_insecure_acs, for development)")
		}
	case "":
		return errkind.Field(field, "must be an absolute https URL")
	default:
		return errkind.Field(field, fmt.Sprintf("must be an https URL, not a %s: URL", u.Scheme))
	}
	switch {
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return errkind.Field(field, "must be an absolute URL with a host")
	case u.User != nil:
		return errkind.Field(field, "must not carry user info (user:password@)")
	case strings.Contains(raw, "#"):
		return errkind.Field(field, "must not have a fragment")
	}
	return nil
}

// checkSource checks a name identifier or attribute source against fixed
// and the profile schema's attributes.
func checkSource(field, src string, fixed []string, schema *user.Schema) error {
	if slices.Contains(fixed, src) {
		return nil
	}
	name, ok := strings.CutPrefix(src, SourceAttributePrefix)
	if !ok || !samlAttrNamePattern.MatchString(name) {
		return errkind.Field(field, "must be "+strings.Join(fixed, ", ")+" or attribute:<profile attribute>")
	}
	if schema != nil && !slices.ContainsFunc(schema.Attributes, func(a user.AttributeDef) bool { return a.Name == name }) {
		return errkind.Field(field, fmt.Sprintf("the profile schema has no attribute %q", name))
	}
	return nil
}

// parseSPCertificate checks an SP certificate: one PEM X.509 certificate,
// not expired, with an RSA (2048 bits at least) or ECDSA key. It returns the
// certificate and its PEM re-encoded without headers or stray text.
func parseSPCertificate(field, text string, now time.Time) (*x509.Certificate, string, error) {
	if len(text) > maxCertificatePEM {
		return nil, "", errkind.Field(field, fmt.Sprintf("must be at most %d bytes", maxCertificatePEM))
	}
	block, rest := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil || block.Type != "CERTIFICATE" || !strings.HasPrefix(strings.TrimSpace(text), "-----BEGIN") {
		return nil, "", errkind.Field(field, "must be one PEM-encoded X.509 certificate (-----BEGIN CERTIFICATE-----)")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, "", errkind.Field(field, "must hold exactly one certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, "", errkind.Field(field, "is not a valid X.509 certificate")
	}
	if now.After(cert.NotAfter) {
		return nil, "", errkind.Field(field, "expired on "+cert.NotAfter.UTC().Format(time.RFC3339))
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, "", errkind.Field(field, "an RSA key must have at least 2048 bits")
		}
	case *ecdsa.PublicKey:
	default:
		return nil, "", errkind.Field(field, "must hold an RSA or ECDSA public key")
	}
	return cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})), nil
}

// validateSAML checks c and normalises its certificate. schema is the
// tenant's profile schema, for attribute: sources.
func validateSAML(c *SAMLConfig, schema *user.Schema, now time.Time) error {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, errkind.Field(field, msg)) }

	switch {
	case strings.TrimSpace(c.EntityID) == "":
		bad("entity_id", "is required")
	case len(c.EntityID) > MaxEntityIDLength:
		bad("entity_id", fmt.Sprintf("must be at most %d characters", MaxEntityIDLength))
	case strings.ContainsFunc(c.EntityID, func(r rune) bool { return r <= 0x20 || r >= 0x7f }):
		// Entity ids are URIs (SAML core §8.3.6), compared as exact strings.
		bad("entity_id", "must be printable ASCII without spaces")
	}

	switch {
	case len(c.ACS) == 0:
		bad("acs", "needs at least one assertion consumer service")
	case len(c.ACS) > maxACS:
		bad("acs", fmt.Sprintf("at most %d assertion consumer services", maxACS))
	}
	indexes, defaults := map[int]bool{}, 0
	for i, a := range c.ACS {
		f := fmt.Sprintf("acs.%d", i)
		switch {
		case a.Index < 0 || a.Index > 65535:
			bad(f+".index", "must be between 0 and 65535") // xs:unsignedShort
		case indexes[a.Index]:
			bad(f+".index", "is used by another assertion consumer service")
		}
		indexes[a.Index] = true
		if err := checkEndpointURL(f+".url", a.URL, c.AllowInsecureACS); err != nil {
			errs = append(errs, err)
		}
		if a.Binding != BindingHTTPPost {
			// HTTP-Redirect cannot carry a Response (SAML bindings §3.4:
			// too large, and a signed one in a URL is an invitation to
			// leak); Artifact needs a back channel Tessera does not offer.
			bad(f+".binding", "must be "+BindingHTTPPost)
		}
		if a.Default {
			if defaults++; defaults == 2 {
				bad(f+".default", "only one assertion consumer service can be the default")
			}
		}
	}

	if c.SLO != nil {
		if err := checkEndpointURL("slo.url", c.SLO.URL, c.AllowInsecureACS); err != nil {
			errs = append(errs, err)
		}
		if c.SLO.Binding != BindingHTTPPost && c.SLO.Binding != BindingHTTPRedirect {
			bad("slo.binding", "must be "+BindingHTTPPost+" or "+BindingHTTPRedirect)
		}
	}

	if !slices.Contains(NameIDFormats, c.NameIDFormat) {
		bad("name_id_format", "must be one of "+strings.Join(NameIDFormats, ", "))
	}
	if err := checkSource("name_id_source", c.NameIDSource, NameIDSources, schema); err != nil {
		errs = append(errs, err)
	} else if slices.Contains(NameIDFormats, c.NameIDFormat) {
		// A persistent identifier must be opaque and stable, a transient
		// one new each time (SAML core §8.3.7, §8.3.8): only generated ones
		// qualify, and generated ones are nothing else.
		persistent, transient := c.NameIDFormat == NameIDFormatPersistent, c.NameIDFormat == NameIDFormatTransient
		switch {
		case persistent != (c.NameIDSource == SourcePersistent):
			bad("name_id_source", "the persistent format and the persistent source go together")
		case transient != (c.NameIDSource == SourceTransient):
			bad("name_id_source", "the transient format and the transient source go together")
		case c.NameIDFormat == NameIDFormatEmail && c.NameIDSource != SourceEmail && !strings.HasPrefix(c.NameIDSource, SourceAttributePrefix):
			bad("name_id_source", "the emailAddress format needs the email or a profile attribute holding one")
		}
	}

	if len(c.Attributes) > maxSAMLAttributes {
		bad("attributes", fmt.Sprintf("at most %d attributes", maxSAMLAttributes))
	}
	names := map[string]bool{}
	for i, a := range c.Attributes {
		f := fmt.Sprintf("attributes.%d", i)
		switch {
		case strings.TrimSpace(a.Name) == "" || strings.TrimSpace(a.Name) != a.Name:
			bad(f+".name", "is required, without leading or trailing spaces")
		case len(a.Name) > maxAttributeName || strings.ContainsFunc(a.Name, controlChar):
			bad(f+".name", fmt.Sprintf("must be at most %d bytes without control characters", maxAttributeName))
		case names[a.Name]:
			bad(f+".name", "is listed twice")
		}
		names[a.Name] = true
		if len(a.FriendlyName) > maxAttributeName || strings.ContainsFunc(a.FriendlyName, controlChar) {
			bad(f+".friendly_name", fmt.Sprintf("must be at most %d bytes without control characters", maxAttributeName))
		}
		if err := checkSource(f+".source", a.Source, AttributeSources, schema); err != nil {
			errs = append(errs, err)
		}
	}

	if !c.SignResponse && !c.SignAssertion {
		bad("sign_assertion", "the response, the assertion or both must be signed")
	}
	switch c.SignatureAlgorithm {
	case SignatureRSASHA256:
	case SignatureRSASHA1:
		if !c.AllowSHA1 {
			bad("signature_algorithm", "rsa-sha1 is refused unless allow_sha1 is set: SHA-1 signatures can be forged")
		}
	default:
		bad("signature_algorithm", "must be rsa-sha256 (or rsa-sha1 with allow_sha1)")
	}

	if c.SPCertificate != "" {
		cert, normal, err := parseSPCertificate("sp_certificate", c.SPCertificate, now)
		if err != nil {
			errs = append(errs, err)
		} else {
			c.SPCertificate = normal
			if _, rsaKey := cert.PublicKey.(*rsa.PublicKey); c.EncryptAssertion && !rsaKey {
				// XML Encryption key transport is RSA-OAEP or RSA 1.5.
				bad("sp_certificate", "encrypting assertions needs an RSA key")
			}
		}
	} else {
		if c.EncryptAssertion {
			bad("sp_certificate", "is required to encrypt assertions")
		}
		if c.WantSignedRequests {
			bad("sp_certificate", "is required to verify signed requests")
		}
	}

	if c.ClockSkewSeconds < 0 || c.ClockSkewSeconds > 300 {
		bad("clock_skew_seconds", "must be between 0 and 300")
	}
	if c.AssertionLifetimeSeconds < 60 || c.AssertionLifetimeSeconds > 3600 {
		bad("assertion_lifetime_seconds", "must be between 60 and 3600")
	}
	if len(c.RelayStateDefault) > MaxRelayStateLength {
		bad("relay_state_default", fmt.Sprintf("must be at most %d bytes (SAML bindings §3.5.3)", MaxRelayStateLength))
	} else if strings.ContainsFunc(c.RelayStateDefault, controlChar) {
		bad("relay_state_default", "must not hold control characters")
	}
	return errors.Join(errs...)
}

// sameSAML reports whether a and b configure the same thing (their
// bookkeeping aside).
func sameSAML(a, b *SAMLConfig) bool {
	x, y := *a, *b
	for _, c := range []*SAMLConfig{&x, &y} {
		c.Tenant, c.App, c.Version, c.Created, c.Updated = "", "", 0, time.Time{}, time.Time{}
		if len(c.Attributes) == 0 {
			c.Attributes = nil
		}
	}
	return reflect.DeepEqual(x, y)
}

// schemaFor returns the profile schema when c names profile attributes.
func (s *Service) schemaFor(ctx context.Context, t tenant.ID, c *SAMLConfig) (*user.Schema, error) {
	return s.profileSchema(ctx, t, strings.HasPrefix(c.NameIDSource, SourceAttributePrefix) ||
		slices.ContainsFunc(c.Attributes, func(a SAMLAttribute) bool { return strings.HasPrefix(a.Source, SourceAttributePrefix) }))
}

// profileSchema reads the tenant's profile schema, inside the caller's
// transaction, when a configuration names profile attributes (needed);
// nil otherwise.
func (s *Service) profileSchema(ctx context.Context, t tenant.ID, needed bool) (*user.Schema, error) {
	if !needed {
		return nil, nil
	}
	var sch user.Schema
	if _, err := s.Store.Setting(ctx, t, user.SettingProfileSchema, &sch); err != nil {
		return nil, err
	}
	return &sch, nil
}

// SAMLConfig returns a SAML application's service-provider configuration.
// Like the application, every scope of the tenant may read it.
func (s *Service) SAMLConfig(ctx context.Context, sc tenant.Scope, app AppID) (*SAMLConfig, error) {
	if _, err := s.Store.Application(ctx, sc.Tenant, app); err != nil {
		return nil, err
	}
	return s.Store.SAMLConfig(ctx, sc.Tenant, app)
}

// SetSAMLConfig replaces (or sets) the SAML configuration of an application
// of kind saml; ifVersion, when non-zero, must match the current version.
// A configuration equal to the current one changes nothing.
func (s *Service) SetSAMLConfig(ctx context.Context, sc tenant.Scope, app AppID, cfg SAMLConfig, ifVersion int64) (*SAMLConfig, error) {
	if !sc.TenantWide() {
		return nil, errOrgScoped
	}
	return s.putSAMLConfig(ctx, sc.Tenant, app, ifVersion, func(*SAMLConfig) (SAMLConfig, error) { return cfg, nil })
}

// putSAMLConfig replaces an application's SAML configuration with what build
// makes of the current one (nil when there is none), in one transaction, so
// that a configuration derived from the current one (a metadata import)
// cannot overwrite a change made in between.
func (s *Service) putSAMLConfig(ctx context.Context, t tenant.ID, app AppID, ifVersion int64,
	build func(old *SAMLConfig) (SAMLConfig, error)) (*SAMLConfig, error) {
	now := s.Now()
	var out *SAMLConfig
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		// The lock orders this change after a concurrent delete of the
		// application, and two changes of its configuration one after the
		// other.
		a, err := s.lockedApplication(ctx, t, app)
		if err != nil {
			return err
		}
		if a.Kind != KindSAML {
			return fmt.Errorf("application %s is of kind %s; %w", app, a.Kind, ErrNotSAMLApp)
		}
		old, err := s.Store.SAMLConfig(ctx, t, app)
		if errors.Is(err, ErrSAMLNotConfigured) {
			old, err = nil, nil
		}
		if err != nil {
			return err
		}
		c, err := build(old)
		if err != nil {
			return err
		}
		c.Tenant, c.App = t, app
		c.ACS = slices.Clone(c.ACS)
		c.Attributes = slices.Clone(c.Attributes)
		if c.SLO != nil {
			slo := *c.SLO
			c.SLO = &slo
		}
		schema, err := s.schemaFor(ctx, t, &c)
		if err != nil {
			return err
		}
		if err := validateSAML(&c, schema, now); err != nil {
			return err
		}
		if old == nil {
			if ifVersion != 0 {
				return errkind.Stale // If-Match names a version of nothing
			}
			c.Version, c.Created = 1, now
		} else {
			if err := errkind.CheckVersion(old.Version, ifVersion); err != nil {
				return err
			}
			if sameSAML(old, &c) {
				out = old
				return nil
			}
			c.Version, c.Created = old.Version+1, old.Created
		}
		c.Updated = now
		if err := s.Store.PutSAMLConfig(ctx, &c); err != nil {
			return err
		}
		out = &c
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), now, "application.saml_configured", "application", string(app),
			samlSummary(&c, old == nil)))
	})
	if err != nil {
		return nil, fmt.Errorf("set saml configuration of %s: %w", app, err)
	}
	return out, nil
}

// samlSummary is the audit record of a configuration: everything but the
// certificate's body, of which the fingerprint and expiry say enough.
func samlSummary(c *SAMLConfig, created bool) map[string]any {
	acs := make([]map[string]any, len(c.ACS))
	for i, a := range c.ACS {
		acs[i] = map[string]any{"index": a.Index, "url": a.URL, "binding": a.Binding, "default": a.Default}
	}
	attrs := make([]map[string]any, len(c.Attributes))
	for i, a := range c.Attributes {
		attrs[i] = map[string]any{"name": a.Name, "source": a.Source}
	}
	d := map[string]any{"created": created, "version": c.Version, "entity_id": c.EntityID, "acs": acs, "slo": nil,
		"name_id_format": c.NameIDFormat, "name_id_source": c.NameIDSource, "attributes": attrs,
		"sign_response": c.SignResponse, "sign_assertion": c.SignAssertion, "signature_algorithm": c.SignatureAlgorithm,
		"encrypt_assertion": c.EncryptAssertion, "sp_certificate": nil, "want_signed_requests": c.WantSignedRequests,
		"clock_skew_seconds": c.ClockSkewSeconds, "assertion_lifetime_seconds": c.AssertionLifetimeSeconds,
		"relay_state_default": c.RelayStateDefault, "allow_insecure_acs": c.AllowInsecureACS, "allow_sha1": c.AllowSHA1}
	if c.SLO != nil {
		d["slo"] = map[string]any{"url": c.SLO.URL, "binding": c.SLO.Binding}
	}
	if cert, err := c.Certificate(); err == nil && cert != nil {
		sum := sha256.Sum256(cert.Raw)
		d["sp_certificate"] = map[string]any{"sha256": hex.EncodeToString(sum[:]), "subject": cert.Subject.String(),
			"not_after": cert.NotAfter.UTC().Format(time.RFC3339)}
	}
	return d
}

// DeleteSAMLConfig removes an application's SAML configuration; the
// application stays, and no SAML sign-in reaches it any more.
func (s *Service) DeleteSAMLConfig(ctx context.Context, sc tenant.Scope, app AppID) error {
	if !sc.TenantWide() {
		return errOrgScoped
	}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.lockedApplication(ctx, sc.Tenant, app); err != nil {
			return err
		}
		if err := s.Store.DeleteSAMLConfig(ctx, sc.Tenant, app); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), s.Now(), "application.saml_deleted", "application", string(app), nil))
	})
	if err != nil {
		return fmt.Errorf("delete saml configuration of %s: %w", app, err)
	}
	return nil
}

// AppBySAMLEntityID finds the application whose service provider has
// entityID, within tenant t only: the IdP's lookup of the issuer of an
// AuthnRequest. It does not judge the application's status or anyone's
// access; the caller does.
func (s *Service) AppBySAMLEntityID(ctx context.Context, t tenant.ID, entityID string) (*Application, *SAMLConfig, error) {
	if entityID == "" || len(entityID) > MaxEntityIDLength {
		return nil, nil, ErrUnknownSAMLEntity
	}
	c, err := s.Store.SAMLConfigByEntityID(ctx, t, entityID)
	return withApp(ctx, s, t, c, err, ErrSAMLNotConfigured, ErrUnknownSAMLEntity)
}

// protocolConfig is a protocol configuration of an application.
type protocolConfig interface{ appID() AppID }

func (c *SAMLConfig) appID() AppID { return c.App }
func (c *OIDCClient) appID() AppID { return c.App }

// withApp completes a lookup of a protocol configuration by its protocol
// identifier (entity id, client id) with the application it belongs to.
// Every miss, no configuration (missing) or its application deleted in
// between, is the same unknown error, so the caller learns nothing more.
func withApp[C protocolConfig](ctx context.Context, s *Service, t tenant.ID, c C, err, missing, unknown error) (*Application, C, error) {
	var none C
	if errors.Is(err, missing) {
		return nil, none, unknown
	}
	if err != nil {
		return nil, none, err
	}
	a, err := s.Store.Application(ctx, t, c.appID())
	if errors.Is(err, ErrAppNotFound) {
		return nil, none, unknown
	}
	if err != nil {
		return nil, none, err
	}
	return a, c, nil
}
