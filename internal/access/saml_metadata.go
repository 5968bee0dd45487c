package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// SPMetadata is what a service provider's SAML metadata says about it (SAML
// metadata §2.4.4, SPSSODescriptor), as an adapter read it from the XML: this
// package judges it and never parses XML.
type SPMetadata struct {
	EntityID string
	ACS      []ACS          // every AssertionConsumerService, whatever its binding
	SLO      []SAMLEndpoint // every SingleLogoutService, whatever its binding
	// SigningCerts and EncryptionCerts are the PEM certificates of the
	// KeyDescriptors for that use; one without a use is in both (SAML
	// metadata §2.4.1.1).
	SigningCerts         []string
	EncryptionCerts      []string
	AuthnRequestsSigned  bool
	WantAssertionsSigned bool
	NameIDFormats        []string // in the metadata's order
}

// CheckSAMLMetadataURL tells whether the caller may import metadata into app
// from raw, before anything is fetched: the caller manages applications, app
// is a SAML application, and raw is an endpoint URL by the ACS rules (https;
// http only when the application already allows insecure endpoints). Where
// raw resolves to is the fetcher's to check.
func (s *Service) CheckSAMLMetadataURL(ctx context.Context, sc tenant.Scope, app AppID, raw string) error {
	if !sc.TenantWide() {
		return errOrgScoped
	}
	a, err := s.Store.Application(ctx, sc.Tenant, app)
	if err != nil {
		return err
	}
	if a.Kind != KindSAML {
		return fmt.Errorf("application %s is of kind %s; %w", app, a.Kind, ErrNotSAMLApp)
	}
	allowHTTP := false
	switch c, err := s.Store.SAMLConfig(ctx, sc.Tenant, app); {
	case err == nil:
		allowHTTP = c.AllowInsecureACS
	case !errors.Is(err, ErrSAMLNotConfigured):
		return err
	}
	return checkEndpointURL("url", raw, allowHTTP)
}

// ImportSAMLMetadata sets an application's SAML configuration from its
// service provider's metadata: what the metadata says (entity id, endpoints,
// certificate, signed requests, name identifier format) replaces what was
// configured; the rest (attributes, signature choices, encryption, clock
// skew, ...) stays as it was, or takes the defaults. Everything then passes
// the same rules as SetSAMLConfig.
func (s *Service) ImportSAMLMetadata(ctx context.Context, sc tenant.Scope, app AppID, md SPMetadata, ifVersion int64) (*SAMLConfig, error) {
	if !sc.TenantWide() {
		return nil, errOrgScoped
	}
	return s.putSAMLConfig(ctx, sc.Tenant, app, ifVersion, func(old *SAMLConfig) (SAMLConfig, error) {
		base := DefaultSAMLConfig()
		if old != nil {
			base = *old
		}
		return fromMetadata(base, md)
	})
}

// fromMetadata is c with what md says.
func fromMetadata(c SAMLConfig, md SPMetadata) (SAMLConfig, error) {
	var errs []error
	c.EntityID = md.EntityID

	// Only HTTP-POST carries a Response (see validateSAML); an SP lists its
	// other bindings for other IdPs, so they are passed over, not refused.
	c.ACS = nil
	for _, a := range md.ACS {
		if a.Binding == BindingHTTPPost {
			c.ACS = append(c.ACS, a)
		}
	}
	if len(c.ACS) == 0 && len(md.ACS) > 0 {
		errs = append(errs, errkind.Field("acs", "the metadata lists no assertion consumer service with the "+BindingHTTPPost+" binding"))
	}
	c.SLO = nil
	for _, e := range md.SLO {
		if e.Binding == BindingHTTPPost || e.Binding == BindingHTTPRedirect {
			c.SLO = &e
			break
		}
	}

	// One sp_certificate verifies requests and logout messages and receives
	// encrypted assertions: the signing one, unless only encryption needs
	// a certificate.
	first := func(l []string) string {
		if len(l) == 0 {
			return ""
		}
		return l[0]
	}
	c.SPCertificate = first(md.SigningCerts)
	if c.SPCertificate == "" {
		c.SPCertificate = first(md.EncryptionCerts)
	}
	if c.EncryptAssertion && len(md.EncryptionCerts) > 0 && !slices.Contains(md.EncryptionCerts, c.SPCertificate) {
		if md.AuthnRequestsSigned || c.SLO != nil {
			errs = append(errs, errkind.Field("sp_certificate", "the metadata has separate signing and encryption "+
				"certificates, and Tessera keeps one for both: turn encrypt_assertion off or configure it with PUT"))
		}
		c.SPCertificate = first(md.EncryptionCerts)
	}

	c.WantSignedRequests = md.AuthnRequestsSigned
	if md.WantAssertionsSigned {
		c.SignAssertion = true
	}

	if len(md.NameIDFormats) > 0 {
		i := slices.IndexFunc(md.NameIDFormats, func(f string) bool { return slices.Contains(NameIDFormats, f) })
		switch {
		case i < 0:
			errs = append(errs, errkind.Field("name_id_format", "the metadata lists only name identifier formats Tessera "+
				"does not issue; Tessera issues "+strings.Join(NameIDFormats, ", ")))
		case md.NameIDFormats[i] != c.NameIDFormat:
			c.NameIDFormat, c.NameIDSource = md.NameIDFormats[i], DefaultNameIDSource(md.NameIDFormats[i])
		}
	}
	return c, errors.Join(errs...)
}
