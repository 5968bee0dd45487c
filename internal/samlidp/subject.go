package samlidp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/crewjam/saml"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// Attribute name formats (SAML core §8.2.2, §8.2.3) and the one value type.
const (
	attrNameFormatURI   = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	attrNameFormatBasic = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	xsString            = "xs:string"
)

// nameID is the user's name identifier for the application, from the
// configured source. A persistent one is a pairwise pseudonym (SAML core
// §8.3.7): a keyed digest of tenant, application and user, opaque, stable,
// and different for every application; a transient one is new each time
// (§8.3.8). Both are qualified by the two entity ids. The value is empty
// when the user has nothing in the source.
func (h *Handler) nameID(q *req, a *answer, p *principal) (*saml.NameID, error) {
	id := &saml.NameID{Format: a.config.NameIDFormat}
	switch a.config.NameIDSource {
	case access.SourcePersistent:
		id.Value = h.Pairwise.Digest("persistent-id/" + string(q.tenant.ID) + "/" + string(a.app.ID) + "/" + string(p.user.ID))
	case access.SourceTransient:
		id.Value = newID()
	default:
		vs, err := h.values(q, a, p, a.config.NameIDSource)
		if err != nil || len(vs) == 0 {
			return id, err
		}
		id.Value = vs[0]
		return id, nil
	}
	id.NameQualifier, id.SPNameQualifier = h.entityID(q.tenant), a.config.EntityID
	return id, nil
}

// attributes builds the configured attributes (SAML core §2.7.3.1); one
// with no value is left out rather than sent empty.
func (h *Handler) attributes(q *req, a *answer, p *principal) ([]saml.Attribute, error) {
	var out []saml.Attribute
	for _, c := range a.config.Attributes {
		vs, err := h.values(q, a, p, c.Source)
		if err != nil {
			return nil, err
		}
		if len(vs) == 0 {
			continue
		}
		attr := saml.Attribute{Name: c.Name, FriendlyName: c.FriendlyName, NameFormat: attrNameFormatBasic}
		if isURI(c.Name) {
			attr.NameFormat = attrNameFormatURI
		}
		for _, v := range vs {
			attr.Values = append(attr.Values, saml.AttributeValue{Type: xsString, Value: v})
		}
		out = append(out, attr)
	}
	return out, nil
}

// isURI reports whether an attribute name is a URI (urn:oid:..., a URL),
// to be sent with the uri name format rather than basic.
func isURI(name string) bool {
	for _, p := range []string{"urn:", "http://", "https://"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// values returns what source says about p, for application a.
func (h *Handler) values(q *req, a *answer, p *principal, source string) ([]string, error) {
	u := p.user
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	switch source {
	case access.SourceEmail:
		return one(u.PrimaryEmail().Value), nil
	case access.SourceUsername:
		return one(u.Username), nil
	case access.SourceGivenName:
		return one(u.GivenName), nil
	case access.SourceFamilyName:
		return one(u.FamilyName), nil
	case access.SourceDisplayName:
		return one(u.DisplayName), nil
	case access.SourcePhone:
		return one(u.Phone), nil
	case access.SourceLocale:
		return one(u.Locale), nil
	case access.SourceGroups:
		return h.Groups.NamesOf(q.ctx(), tenant.Scope{Tenant: q.tenant.ID}, u.ID)
	case access.SourceAppRoles:
		var roles []string
		for _, iv := range p.ivs {
			if iv.App == a.app.ID && iv.Role != "" {
				roles = append(roles, iv.Role)
			}
		}
		slices.Sort(roles)
		return slices.Compact(roles), nil
	case access.SourceOrganization:
		if p.org == nil {
			return nil, nil
		}
		return one(p.org.Name), nil
	}
	if name, ok := strings.CutPrefix(source, access.SourceAttributePrefix); ok {
		return attributeValues(u.Attributes[name]), nil
	}
	return nil, fmt.Errorf("unknown attribute source %q", source)
}

// attributeValues renders a profile attribute's value: a list gives one
// value per item, anything else one value in its JSON-like text.
func attributeValues(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, attributeValues(x)...)
		}
		return out
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	}
	return []string{fmt.Sprint(v)}
}
