package api

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/web"
)

// The SAML service-provider configuration of an application of kind saml.
// PUT replaces it whole; members left out take their defaults (both
// signatures, rsa-sha256, 60 s of clock skew, 300 s assertions, email
// addresses as name identifiers).

type samlACSJSON struct {
	Index   int    `json:"index"`
	URL     string `json:"url"`
	Binding string `json:"binding"`
	Default bool   `json:"default"`
}

type samlEndpointJSON struct {
	URL     string `json:"url"`
	Binding string `json:"binding"`
}

type samlAttributeJSON struct {
	Name         string `json:"name"`
	FriendlyName string `json:"friendly_name"`
	Source       string `json:"source"`
}

type samlConfigJSON struct {
	ApplicationID            string              `json:"application_id"`
	EntityID                 string              `json:"entity_id"`
	ACS                      []samlACSJSON       `json:"acs"`
	SLO                      *samlEndpointJSON   `json:"slo"`
	NameIDFormat             string              `json:"name_id_format"`
	NameIDSource             string              `json:"name_id_source"`
	Attributes               []samlAttributeJSON `json:"attributes"`
	SignResponse             bool                `json:"sign_response"`
	SignAssertion            bool                `json:"sign_assertion"`
	SignatureAlgorithm       string              `json:"signature_algorithm"`
	EncryptAssertion         bool                `json:"encrypt_assertion"`
	SPCertificate            string              `json:"sp_certificate"`
	WantSignedRequests       bool                `json:"want_signed_requests"`
	ClockSkewSeconds         int                 `json:"clock_skew_seconds"`
	AssertionLifetimeSeconds int                 `json:"assertion_lifetime_seconds"`
	RelayStateDefault        string              `json:"relay_state_default"`
	AllowInsecureACS         bool                `json:"allow_insecure_acs"`
	AllowSHA1                bool                `json:"allow_sha1"`
	Version                  int64               `json:"version"`
	CreatedAt                *string             `json:"created_at"`
	UpdatedAt                *string             `json:"updated_at"`
}

func samlConfigView(c *access.SAMLConfig) samlConfigJSON {
	v := samlConfigJSON{ApplicationID: string(c.App), EntityID: c.EntityID, ACS: []samlACSJSON{}, NameIDFormat: c.NameIDFormat,
		NameIDSource: c.NameIDSource, Attributes: []samlAttributeJSON{}, SignResponse: c.SignResponse, SignAssertion: c.SignAssertion,
		SignatureAlgorithm: c.SignatureAlgorithm, EncryptAssertion: c.EncryptAssertion, SPCertificate: c.SPCertificate,
		WantSignedRequests: c.WantSignedRequests, ClockSkewSeconds: c.ClockSkewSeconds, AssertionLifetimeSeconds: c.AssertionLifetimeSeconds,
		RelayStateDefault: c.RelayStateDefault, AllowInsecureACS: c.AllowInsecureACS, AllowSHA1: c.AllowSHA1, Version: c.Version,
		CreatedAt: timeText(c.Created), UpdatedAt: timeText(c.Updated)}
	for _, a := range c.ACS {
		v.ACS = append(v.ACS, samlACSJSON(a))
	}
	if c.SLO != nil {
		v.SLO = &samlEndpointJSON{URL: c.SLO.URL, Binding: c.SLO.Binding}
	}
	for _, a := range c.Attributes {
		v.Attributes = append(v.Attributes, samlAttributeJSON(a))
	}
	return v
}

// samlConfigIn is a PUT body: pointers tell a member left out (its default)
// from one sent.
type samlConfigIn struct {
	EntityID string `json:"entity_id"`
	ACS      []struct {
		Index   *int    `json:"index"` // default: the position in the list
		URL     string  `json:"url"`
		Binding *string `json:"binding"` // default HTTP-POST
		Default bool    `json:"default"`
	} `json:"acs"`
	SLO                      *samlEndpointJSON   `json:"slo"`
	NameIDFormat             *string             `json:"name_id_format"`
	NameIDSource             *string             `json:"name_id_source"`
	Attributes               []samlAttributeJSON `json:"attributes"`
	SignResponse             *bool               `json:"sign_response"`
	SignAssertion            *bool               `json:"sign_assertion"`
	SignatureAlgorithm       *string             `json:"signature_algorithm"`
	EncryptAssertion         bool                `json:"encrypt_assertion"`
	SPCertificate            string              `json:"sp_certificate"`
	WantSignedRequests       bool                `json:"want_signed_requests"`
	ClockSkewSeconds         *int                `json:"clock_skew_seconds"`
	AssertionLifetimeSeconds *int                `json:"assertion_lifetime_seconds"`
	RelayStateDefault        string              `json:"relay_state_default"`
	AllowInsecureACS         bool                `json:"allow_insecure_acs"`
	AllowSHA1                bool                `json:"allow_sha1"`
}

// config applies the defaults to what the body left out.
func (in *samlConfigIn) config() access.SAMLConfig {
	c := access.DefaultSAMLConfig()
	c.EntityID = in.EntityID
	for i, a := range in.ACS {
		acs := access.ACS{Index: i, URL: a.URL, Binding: access.BindingHTTPPost, Default: a.Default}
		if a.Index != nil {
			acs.Index = *a.Index
		}
		if a.Binding != nil {
			acs.Binding = *a.Binding
		}
		c.ACS = append(c.ACS, acs)
	}
	if in.SLO != nil {
		c.SLO = &access.SAMLEndpoint{URL: in.SLO.URL, Binding: in.SLO.Binding}
	}
	if in.NameIDFormat != nil {
		c.NameIDFormat = *in.NameIDFormat
	}
	c.NameIDSource = access.DefaultNameIDSource(c.NameIDFormat)
	if in.NameIDSource != nil {
		c.NameIDSource = *in.NameIDSource
	}
	for _, a := range in.Attributes {
		c.Attributes = append(c.Attributes, access.SAMLAttribute(a))
	}
	set := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.SignResponse, in.SignResponse)
	set(&c.SignAssertion, in.SignAssertion)
	if in.SignatureAlgorithm != nil {
		c.SignatureAlgorithm = *in.SignatureAlgorithm
	}
	if in.ClockSkewSeconds != nil {
		c.ClockSkewSeconds = *in.ClockSkewSeconds
	}
	if in.AssertionLifetimeSeconds != nil {
		c.AssertionLifetimeSeconds = *in.AssertionLifetimeSeconds
	}
	c.EncryptAssertion, c.SPCertificate, c.WantSignedRequests = in.EncryptAssertion, in.SPCertificate, in.WantSignedRequests
	c.RelayStateDefault, c.AllowInsecureACS, c.AllowSHA1 = in.RelayStateDefault, in.AllowInsecureACS, in.AllowSHA1
	return c
}

func (a *API) showApplicationSAML(w http.ResponseWriter, r *http.Request) error {
	c, err := a.Access.SAMLConfig(r.Context(), scope(r), access.AppID(r.PathValue("id")))
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, c.Version, samlConfigView(c))
}

func (a *API) replaceApplicationSAML(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in samlConfigIn
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, err := a.Access.SetSAMLConfig(r.Context(), scope(r), access.AppID(r.PathValue("id")), in.config(), version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, c.Version, samlConfigView(c))
}

func (a *API) deleteApplicationSAML(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.DeleteSAMLConfig(r.Context(), scope(r), access.AppID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
