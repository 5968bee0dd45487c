package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/crewjam/saml"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/web"
)

// POST /applications/{id}/saml/metadata sets a SAML application's
// configuration from its service provider's metadata, sent as the body or
// fetched from a URL. This file reads the XML and fetches; access decides
// what the metadata means for the configuration.

const (
	maxSPMetadata        = 256 << 10
	metadataFetchTimeout = 10 * time.Second
	nsMetadata           = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsProtocol           = "urn:oasis:names:tc:SAML:2.0:protocol"
)

// Outbound is how the API reaches other servers for an administrator (SP
// metadata by URL). The zero value is the production one: public addresses
// only, the system's trusted roots.
type Outbound struct {
	// AllowPrivate lets a fetch reach loopback, private and link-local
	// addresses. For tests only: elsewhere it lets any administrator probe
	// the internal network through Tessera (SSRF).
	AllowPrivate bool
	// RootCAs, when set, replaces the system's roots (a test server's).
	RootCAs *x509.CertPool
}

var errPrivateAddress = errors.New("private address")

// control refuses, at connect time, any address that is not public: a check
// of the URL alone would miss a public name resolving to 10.0.0.1 (or to it
// only the second time, DNS rebinding).
func (o Outbound) control(_, address string, _ syscall.RawConn) error {
	if o.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if ip := ap.Addr().Unmap(); !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return errPrivateAddress
	}
	return nil
}

// fetch GETs raw, at most limit bytes within metadataFetchTimeout, without
// following redirects or environment proxies (either would move the request
// past the address check); problems are field errors on field.
func (o Outbound) fetch(ctx context.Context, field, raw string, limit int64) ([]byte, error) {
	dialer := &net.Dialer{Timeout: metadataFetchTimeout, Control: o.control}
	client := &http.Client{
		Timeout: metadataFetchTimeout,
		Transport: &http.Transport{DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, errkind.Field(field, "is not a URL")
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml;q=0.9, */*;q=0.1")
	res, err := client.Do(req)
	if err != nil {
		var uerr interface{ Timeout() bool }
		var cert *tls.CertificateVerificationError
		switch {
		case errors.Is(err, errPrivateAddress):
			return nil, errkind.Field(field, "must not point to a loopback, private or link-local address")
		case errors.As(err, &cert):
			return nil, errkind.Field(field, "could not be fetched: its server's TLS certificate is not trusted")
		case errors.As(err, &uerr) && uerr.Timeout():
			return nil, errkind.Field(field, fmt.Sprintf("did not answer within %s", metadataFetchTimeout))
		}
		return nil, errkind.Field(field, "could not be fetched: no connection to its server")
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return nil, errkind.Field(field, "answered with a redirect; give the URL it redirects to: "+truncate(res.Header.Get("Location"), 200))
	case res.StatusCode != http.StatusOK:
		return nil, errkind.Field(field, fmt.Sprintf("answered HTTP %d, not the metadata", res.StatusCode))
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	switch {
	case err != nil:
		return nil, errkind.Field(field, "could not be fetched: the answer broke off")
	case int64(len(b)) > limit:
		return nil, errkind.Field(field, fmt.Sprintf("answered more than %d KiB", limit>>10))
	}
	return b, nil
}

// samlMetadataIn is the JSON form of the request: where the metadata is, or
// the metadata itself for clients that send only JSON.
type samlMetadataIn struct {
	URL string `json:"url"`
	XML string `json:"xml"`
}

func (a *API) importApplicationSAMLMetadata(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	app := access.AppID(r.PathValue("id"))
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var doc []byte
	field := "body"
	switch {
	case mt == "application/samlmetadata+xml" || mt == "application/xml":
		// SAML metadata §4.1.1 registers application/samlmetadata+xml.
		doc, err = io.ReadAll(io.LimitReader(r.Body, maxSPMetadata+1))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return web.ErrTooLarge
		case err != nil:
			return errkind.Field("body", "could not be read")
		case len(doc) > maxSPMetadata:
			return errkind.Field("body", fmt.Sprintf("must be at most %d KiB", maxSPMetadata>>10))
		}
	default:
		var in samlMetadataIn
		if err := web.DecodeJSON(r, &in); err != nil {
			if errors.Is(err, web.ErrUnsupportedMedia) {
				return errMetadataMedia
			}
			return err
		}
		switch {
		case (in.URL == "") == (in.XML == ""):
			return errkind.Field("url", "give url or xml (exactly one)")
		case in.XML != "":
			if len(in.XML) > maxSPMetadata {
				return errkind.Field("xml", fmt.Sprintf("must be at most %d KiB", maxSPMetadata>>10))
			}
			doc, field = []byte(in.XML), "xml"
		default:
			// Judged before anything is fetched, so that a caller who may
			// not import makes Tessera send nothing.
			if err := a.Access.CheckSAMLMetadataURL(r.Context(), scope(r), app, in.URL); err != nil {
				return err
			}
			if doc, err = a.Outbound.fetch(r.Context(), "url", in.URL, maxSPMetadata); err != nil {
				return err
			}
			field = "url"
		}
	}
	md, err := parseSPMetadata(doc, field, a.Now())
	if err != nil {
		return err
	}
	c, err := a.Access.ImportSAMLMetadata(r.Context(), scope(r), app, md, version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, c.Version, samlConfigView(c))
}

var errMetadataMedia = &web.StatusError{Status: http.StatusUnsupportedMediaType, Type: "unsupported-media-type",
	Detail: "send the metadata as application/samlmetadata+xml, or application/json with url or xml"}

// parseSPMetadata reads a service provider's metadata: one EntityDescriptor
// (alone or as the only one of an EntitiesDescriptor) with one
// SPSSODescriptor for SAML 2.0. Go's encoding/xml expands no entities, but
// XML that would not survive its round trip (CVE-2020-29509..29511) is
// refused, and so is any DTD, which metadata has no use for. Problems are
// field errors on field, where the document came from.
func parseSPMetadata(doc []byte, field string, now time.Time) (access.SPMetadata, error) {
	var md access.SPMetadata
	bad := func(msg string) (access.SPMetadata, error) { return md, errkind.Field(field, msg) }
	if err := xrv.Validate(bytes.NewReader(doc)); err != nil {
		return bad("is not well-formed XML, or XML that changes when parsed again")
	}
	var root *xml.StartElement
	for dec := xml.NewDecoder(bytes.NewReader(doc)); ; {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bad("is not well-formed XML")
		}
		switch t := tok.(type) {
		case xml.Directive:
			return bad("carries a document type declaration (<!DOCTYPE ...>), which metadata has no use for")
		case xml.StartElement:
			if root == nil {
				root = &t
			}
		}
	}
	if root == nil || root.Name.Space != nsMetadata {
		return bad("is not SAML metadata: its root must be an EntityDescriptor in the " + nsMetadata + " namespace")
	}
	var ed saml.EntityDescriptor
	switch root.Name.Local {
	case "EntityDescriptor":
		if err := xml.Unmarshal(doc, &ed); err != nil {
			return bad("does not follow the SAML metadata schema")
		}
	case "EntitiesDescriptor":
		var eds saml.EntitiesDescriptor
		if err := xml.Unmarshal(doc, &eds); err != nil {
			return bad("does not follow the SAML metadata schema")
		}
		if len(eds.EntityDescriptors) != 1 || len(eds.EntitiesDescriptors) != 0 {
			return bad("describes several entities; send the application's own EntityDescriptor")
		}
		ed = eds.EntityDescriptors[0]
	default:
		return bad("is not SAML metadata: its root must be an EntityDescriptor")
	}
	if !ed.ValidUntil.IsZero() && now.After(ed.ValidUntil) {
		return bad("expired on " + ed.ValidUntil.UTC().Format(time.RFC3339) + " (validUntil)")
	}
	switch len(ed.SPSSODescriptors) {
	case 0:
		return bad("has no SPSSODescriptor: it does not describe a service provider")
	case 1:
	default:
		return bad("has several SPSSODescriptors; send one")
	}
	sp := ed.SPSSODescriptors[0]
	if !slices.Contains(strings.Fields(sp.ProtocolSupportEnumeration), nsProtocol) {
		return bad("its SPSSODescriptor does not support SAML 2.0 (protocolSupportEnumeration)")
	}

	md.EntityID = ed.EntityID
	for _, e := range sp.AssertionConsumerServices {
		md.ACS = append(md.ACS, access.ACS{Index: e.Index, URL: e.Location, Binding: e.Binding, Default: e.IsDefault != nil && *e.IsDefault})
	}
	for _, e := range sp.SingleLogoutServices {
		md.SLO = append(md.SLO, access.SAMLEndpoint{URL: e.Location, Binding: e.Binding})
	}
	for _, kd := range sp.KeyDescriptors {
		if kd.Use != "" && kd.Use != "signing" && kd.Use != "encryption" {
			return bad(fmt.Sprintf("has a KeyDescriptor for use %q; the uses are signing and encryption", kd.Use))
		}
		for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Data), ""))
			if err != nil || len(der) == 0 {
				return bad("has a KeyDescriptor whose X509Certificate is not base64")
			}
			cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
			if kd.Use != "encryption" {
				md.SigningCerts = append(md.SigningCerts, cert)
			}
			if kd.Use != "signing" {
				md.EncryptionCerts = append(md.EncryptionCerts, cert)
			}
		}
	}
	md.AuthnRequestsSigned = sp.AuthnRequestsSigned != nil && *sp.AuthnRequestsSigned
	md.WantAssertionsSigned = sp.WantAssertionsSigned != nil && *sp.WantAssertionsSigned
	for _, f := range sp.NameIDFormats {
		md.NameIDFormats = append(md.NameIDFormats, strings.TrimSpace(string(f)))
	}
	return md, nil
}
