package samlidp_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"testing"

	saml2 "github.com/russellhaering/gosaml2"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/keys"
)

// TestMetadata checks the IdP metadata: entity id, both SSO bindings, name
// id formats, and a signing certificate for every published key, so that
// the next key is trusted before a rotation makes it sign.
func TestMetadata(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		res, err := http.Get(e.page("/saml/metadata"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "application/samlmetadata+xml" {
			t.Errorf("content type %q", ct)
		}
		md := e.metadata(t)
		if md.EntityID != e.page("/saml/metadata") {
			t.Errorf("entity id %q", md.EntityID)
		}
		d := md.IDPSSODescriptor
		if d == nil || d.WantAuthnRequestsSigned {
			t.Fatalf("IDPSSODescriptor %+v", d)
		}
		var bindings []string
		for _, s := range d.SingleSignOnServices {
			if s.Location != e.page("/saml/sso") {
				t.Errorf("SSO location %q", s.Location)
			}
			bindings = append(bindings, s.Binding)
		}
		if !slices.Equal(bindings, []string{saml2.BindingHttpRedirect, saml2.BindingHttpPost}) {
			t.Errorf("SSO bindings %q", bindings)
		}
		var formats []string
		for _, f := range d.NameIDFormats {
			formats = append(formats, f.Value)
		}
		if !slices.Equal(formats, access.NameIDFormats) {
			t.Errorf("name id formats %q", formats)
		}

		certs := func() []string {
			var out []string
			for _, kd := range e.metadata(t).IDPSSODescriptor.KeyDescriptors {
				if kd.Use != "signing" || len(kd.KeyInfo.X509Data.X509Certificates) != 1 {
					t.Fatalf("key descriptor %+v", kd)
				}
				out = append(out, kd.KeyInfo.X509Data.X509Certificates[0].Data)
			}
			return out
		}
		published := func() []string {
			ks, err := e.srv.Keys.Published(e.ctx, e.tenant, keys.PurposeSAML, keys.RS256)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, k := range ks {
				out = append(out, base64.StdEncoding.EncodeToString(k.Certificate))
			}
			return out
		}
		before := certs()
		if len(before) != 2 || !slices.Equal(before, published()) {
			t.Fatalf("metadata certificates %d, want the active and the next key", len(before))
		}
		rot, err := e.srv.Keys.Rotate(e.ctx, e.sc(), keys.PurposeSAML, keys.RS256)
		if err != nil {
			t.Fatal(err)
		}
		after := certs()
		if len(after) != 3 || !slices.Equal(after, published()) {
			t.Fatalf("after a rotation: %d certificates, want active, next and the retired one", len(after))
		}
		// The key that signs now was published before the rotation.
		if after[0] != before[1] || after[0] != base64.StdEncoding.EncodeToString(rot.Active.Certificate) {
			t.Error("the newly active key was not the published next key")
		}

		if res, err := http.Get(e.url + "/t/nosuch/saml/metadata"); err != nil || res.StatusCode != http.StatusNotFound {
			t.Errorf("unknown tenant: %v %v", res.StatusCode, err)
		}
	})
}

// TestRotationKeepsSignIn proves the rollover from the service provider's
// side: one that imported the metadata before a rotation accepts responses
// signed with the key that became active.
func TestRotationKeepsSignIn(t *testing.T) {
	eachIDP(t, func(t *testing.T, e *idp) {
		ann := e.newUser(t, "ann", "")
		s := e.newSP(t, "crm", nil)
		e.assign(t, s.app.ID, ann)
		if _, err := e.srv.Keys.Rotate(e.ctx, e.sc(), keys.PurposeSAML, keys.RS256); err != nil {
			t.Fatal(err)
		}
		b := e.browser(t)
		s.verify(t, b.form(b.signIn(b.start(s, s.newRequest(t, saml2.BindingHttpRedirect), saml2.BindingHttpRedirect, ""), "ann")))
	})
}
