package samlidp

import (
	"encoding/base64"
	"encoding/xml"

	"github.com/crewjam/saml"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/keys"
)

// protocolSAML20 is the protocol support enumeration of a SAML 2.0 role
// (SAML metadata §2.4.1).
const protocolSAML20 = "urn:oasis:names:tc:SAML:2.0:protocol"

// metadata serves the tenant's IdP metadata (SAML metadata §2.3.2, §2.4.3).
// Every published signing certificate is listed: the active one, the next
// one (so that applications trust it before a rotation makes it sign), and
// retired ones still in their grace period.
func (h *Handler) metadata(q *req) error {
	ks, err := h.Keys.Published(q.ctx(), q.tenant.ID, keys.PurposeSAML, keys.RS256)
	if err != nil {
		return err
	}
	kds := make([]saml.KeyDescriptor, len(ks))
	for i, k := range ks {
		kds[i] = saml.KeyDescriptor{Use: "signing", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{
			X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(k.Certificate)}}}}}
	}
	formats := make([]saml.NameIDFormat, len(access.NameIDFormats))
	for i, f := range access.NameIDFormats {
		formats[i] = saml.NameIDFormat(f)
	}
	sso, slo := h.ssoURL(q.tenant), h.sloURL(q.tenant)
	// Whether an application must sign its requests is its own setting,
	// enforced per request; the IdP as a whole does not demand it.
	signed := false
	ed := saml.EntityDescriptor{
		EntityID: h.entityID(q.tenant),
		IDPSSODescriptors: []saml.IDPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{
				RoleDescriptor: saml.RoleDescriptor{ProtocolSupportEnumeration: protocolSAML20, KeyDescriptors: kds},
				// Single logout (SAML profiles §4.4), requests and responses
				// alike, at one endpoint.
				SingleLogoutServices: []saml.Endpoint{
					{Binding: access.BindingHTTPRedirect, Location: slo},
					{Binding: access.BindingHTTPPost, Location: slo},
				},
				NameIDFormats: formats,
			},
			WantAuthnRequestsSigned: &signed,
			SingleSignOnServices: []saml.Endpoint{
				{Binding: access.BindingHTTPRedirect, Location: sso},
				{Binding: access.BindingHTTPPost, Location: sso},
			},
		}},
	}
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return err
	}
	hd := q.w.Header()
	hd.Set("Content-Type", "application/samlmetadata+xml")
	hd.Set("Content-Disposition", `inline; filename="`+q.tenant.Slug+`-idp-metadata.xml"`)
	// Short enough that a rotation's next key reaches caches well before
	// it signs (it is published from the previous rotation on).
	hd.Set("Cache-Control", "public, max-age=300")
	_, _ = q.w.Write([]byte(xml.Header))
	_, _ = q.w.Write(out)
	return nil
}
