package samlidp

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"github.com/tessera-iam/tessera/internal/access"
)

// Bounds on what a browser may bring to the SSO endpoint. An AuthnRequest
// is a few kilobytes; crewjam/saml would inflate up to 10 MiB (an unbounded
// inflate was CVE-2023-28119), so Tessera decodes itself, within these.
const (
	maxEncodedRequest = 64 << 10  // the SAMLRequest parameter as sent (base64), either binding
	maxRequestXML     = 256 << 10 // the request once decoded and inflated
	maxPostBody       = maxEncodedRequest + 4<<10
	maxRequestID      = 256
	maxXMLDepth       = 32
	// maxRequestAge is how old (by its IssueInstant, beyond the clock
	// skew) an AuthnRequest may be: a user who takes longer to arrive must
	// go back to the application.
	maxRequestAge = 5 * time.Minute
)

// XML names of SAML 2.0 (SAML core §2, §3; §8.3.6 for the entity format).
const (
	nsProtocol         = "urn:oasis:names:tc:SAML:2.0:protocol"
	nameIDFormatEntity = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
)

// message is a SAML protocol message as a binding delivered it.
type message struct {
	binding    string // access.BindingHTTPRedirect or access.BindingHTTPPost
	xml        []byte
	relayState string
	// The HTTP-Redirect binding signs the query, not the XML (SAML
	// bindings §3.4.4.1): the exact octets signed, and the algorithm and
	// value, when the request carries a signature.
	signedOctets string
	sigAlg       string
	signature    []byte
}

var (
	errTooLarge = refuse(http.StatusRequestEntityTooLarge, "Request too large",
		"The application sent a sign-in request larger than Tessera accepts.")
	errNoRequest = refuse(http.StatusBadRequest, "No sign-in request",
		"This address expects a SAML sign-in request from an application. Open the application and sign in from there.")
)

// malformed refuses a request that is not a well-formed SAML message.
func malformed(why string) error {
	return refuse(http.StatusBadRequest, "Invalid sign-in request", "The application sent a sign-in request Tessera cannot read: "+why+".")
}

// inbound is what an endpoint accepts: the form parameters its messages
// may come in (SAMLRequest, and SAMLResponse at the logout endpoint), and
// how it refuses what it cannot read.
type inbound struct {
	params  []string
	missing error              // no message at all
	refuse  func(string) error // why a message cannot be read
}

var (
	ssoInbound = inbound{params: []string{"SAMLRequest"}, missing: errNoRequest, refuse: malformed}
	sloInbound = inbound{params: []string{"SAMLRequest", "SAMLResponse"},
		missing: sloRefusal("it carries no SAML message"), refuse: sloRefusal}
)

// which returns the one parameter of in.params that present reports, or
// "" when there is none; two are refused.
func (in inbound) which(present func(string) bool) (string, error) {
	found := ""
	for _, p := range in.params {
		if !present(p) {
			continue
		}
		if found != "" {
			return "", in.refuse("it carries both a request and a response")
		}
		found = p
	}
	if found == "" {
		return "", in.missing
	}
	return found, nil
}

// readRedirect decodes an HTTP-Redirect binding message (SAML bindings
// §3.4.4): base64 of DEFLATE, with the signature, when there is one, over
// the query string as sent. It returns the parameter the message came in.
func readRedirect(r *http.Request, in inbound) (*message, string, error) {
	raw, err := rawParams(r.URL.RawQuery, append([]string{"RelayState", "SigAlg", "Signature"}, in.params...)...)
	if err != nil {
		return nil, "", err
	}
	param, err := in.which(func(p string) bool { return raw[p] != "" })
	if err != nil {
		return nil, "", err
	}
	enc := raw[param]
	if len(enc) > 3*maxEncodedRequest { // percent-encoding triples at most
		return nil, "", errTooLarge
	}
	m := &message{binding: access.BindingHTTPRedirect}
	b64, err := url.QueryUnescape(enc)
	if err != nil {
		return nil, "", in.refuse("the " + param + " parameter is not URL-encoded")
	}
	if len(b64) > maxEncodedRequest {
		return nil, "", errTooLarge
	}
	compressed, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, "", in.refuse("the " + param + " parameter is not base64")
	}
	if m.xml, err = inflate(compressed, in.refuse); err != nil {
		return nil, "", err
	}
	if m.relayState, err = url.QueryUnescape(raw["RelayState"]); err != nil {
		return nil, "", in.refuse("the RelayState parameter is not URL-encoded")
	}
	sigAlg, signed := raw["SigAlg"]
	if !signed {
		return m, param, nil
	}
	if m.sigAlg, err = url.QueryUnescape(sigAlg); err != nil {
		return nil, "", in.refuse("the SigAlg parameter is not URL-encoded")
	}
	sig, err := url.QueryUnescape(raw["Signature"])
	if err == nil {
		m.signature, err = base64.StdEncoding.DecodeString(sig)
	}
	if err != nil {
		return nil, "", in.refuse("the Signature parameter is not base64")
	}
	// SAML bindings §3.4.4.1: SAMLRequest (or SAMLResponse)=value&RelayState=
	// value&SigAlg=value, the values as they were URL-encoded, RelayState
	// only when present.
	m.signedOctets = param + "=" + enc
	if rs, ok := raw["RelayState"]; ok {
		m.signedOctets += "&RelayState=" + rs
	}
	m.signedOctets += "&SigAlg=" + sigAlg
	return m, param, nil
}

// rawParams returns the named query parameters with their values still
// URL-encoded; others are ignored, and a named one given twice is refused.
func rawParams(query string, names ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil || !slices.Contains(names, name) {
			continue
		}
		if _, dup := out[name]; dup {
			return nil, malformed("the " + name + " parameter appears twice")
		}
		out[name] = v
	}
	return out, nil
}

// inflate undoes the Redirect binding's DEFLATE (RFC 1951), refusing output
// past maxRequestXML: a few kilobytes can inflate to gigabytes.
func inflate(b []byte, refuse func(string) error) ([]byte, error) {
	fr := flate.NewReader(bytes.NewReader(b))
	defer fr.Close()
	out, err := io.ReadAll(io.LimitReader(fr, maxRequestXML+1))
	switch {
	case err != nil:
		return nil, refuse("the message is not DEFLATE-compressed")
	case len(out) > maxRequestXML:
		return nil, errTooLarge
	}
	return out, nil
}

// readPost decodes an HTTP-POST binding message (SAML bindings §3.5.4):
// base64, not compressed, in a form field. It returns the field the message
// came in.
func readPost(w http.ResponseWriter, r *http.Request, in inbound) (*message, string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPostBody)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, "", errTooLarge
		}
		return nil, "", in.refuse("the form is not URL-encoded")
	}
	f := r.PostForm
	param, err := in.which(func(p string) bool { return f.Get(p) != "" })
	switch {
	case err != nil:
		return nil, "", err
	case len(f[param]) > 1 || len(f["RelayState"]) > 1:
		return nil, "", in.refuse("a parameter appears twice")
	case len(f.Get(param)) > maxEncodedRequest:
		return nil, "", errTooLarge
	}
	b, err := base64.StdEncoding.DecodeString(f.Get(param))
	if err != nil {
		return nil, "", in.refuse("the " + param + " field is not base64")
	}
	return &message{binding: access.BindingHTTPPost, xml: b, relayState: f.Get("RelayState")}, param, nil
}

// parseXML parses a SAML message into a tree. Go's encoding/xml expands
// no external entities, but its round trips are not always faithful
// (CVE-2020-29509..29511), so what would not survive one is refused; so is
// any DTD, which has no place in a SAML message. The root must be want in
// the protocol namespace.
func parseXML(b []byte, want string, refuse func(string) error) (*etree.Element, error) {
	if err := xrv.Validate(bytes.NewReader(b)); err != nil {
		return nil, refuse("its XML is not well-formed")
	}
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = maxXMLDepth
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, refuse("its XML is not well-formed")
	}
	for _, tok := range doc.Child {
		if _, ok := tok.(*etree.Directive); ok {
			return nil, refuse("it carries a document type declaration")
		}
	}
	root := doc.Root()
	if root == nil || root.Tag != want || root.NamespaceURI() != nsProtocol {
		return nil, refuse("it is not a " + want)
	}
	return root, nil
}

// decodeRequest reads an AuthnRequest element into crewjam/saml's type.
func decodeRequest(el *etree.Element) (*saml.AuthnRequest, error) {
	b, err := etree.NewDocumentWithRoot(el.Copy()).WriteToBytes()
	if err != nil {
		return nil, err
	}
	var ar saml.AuthnRequest
	if err := xml.Unmarshal(b, &ar); err != nil {
		return nil, malformed("its elements do not match the SAML schema")
	}
	return &ar, nil
}

// authnRequest is an AuthnRequest that passed every check, with the
// application it came from and the endpoint its answer goes to.
type authnRequest struct {
	*saml.AuthnRequest
	app        *access.Application
	config     *access.SAMLConfig
	acs        access.ACS
	relayState string
}

// checkRequest decodes m and checks everything about it but replay, which
// needs the store and comes last.
func (h *Handler) checkRequest(q *req, m *message) (*authnRequest, error) {
	if len(m.xml) > maxRequestXML {
		return nil, errTooLarge
	}
	if len(m.relayState) > access.MaxRelayStateLength {
		// SAML bindings §3.4.3, §3.5.3: at most 80 bytes.
		return nil, malformed(fmt.Sprintf("its RelayState is longer than %d bytes", access.MaxRelayStateLength))
	}
	root, err := parseXML(m.xml, "AuthnRequest", malformed)
	if err != nil {
		return nil, err
	}
	ar, err := decodeRequest(root)
	if err != nil {
		return nil, err
	}
	// SAML profiles §4.1.4.1: the Issuer names the service provider.
	if ar.Issuer == nil || ar.Issuer.Value == "" {
		return nil, malformed("it names no issuer")
	}
	app, cfg, err := h.Access.AppBySAMLEntityID(q.ctx(), q.tenant.ID, ar.Issuer.Value)
	if errors.Is(err, access.ErrUnknownSAMLEntity) {
		return nil, refuse(http.StatusBadRequest, "Unknown application",
			"The application that sent you here is not registered with "+q.tenant.Name+". Tell the application's administrator.")
	}
	if err != nil {
		return nil, err
	}
	if app.Status != access.AppActive {
		return nil, unavailable(app)
	}
	now := h.Now()
	if cfg.WantSignedRequests {
		cert, err := cfg.Certificate()
		if err != nil || cert == nil {
			return nil, fmt.Errorf("application %s wants signed requests but has no usable certificate: %v", app.ID, err)
		}
		switch m.binding {
		case access.BindingHTTPRedirect:
			err = verifyQuery(m, cert, cfg.AllowSHA1, now)
		default:
			// Only what the signature covers is read from here on: a
			// wrapped or appended element cannot slip in (XSW).
			var signed *etree.Element
			if signed, err = verifyEnveloped(root, cert, cfg.AllowSHA1, now); err == nil {
				ar, err = decodeRequest(signed)
			}
		}
		if err != nil {
			return nil, err
		}
		if ar.Issuer == nil || ar.Issuer.Value != cfg.EntityID {
			return nil, malformed("its signed issuer is not the application")
		}
	}
	if err := h.checkFields(q, ar, cfg, now); err != nil {
		return nil, err
	}
	acs, err := chooseACS(ar, cfg)
	if err != nil {
		return nil, err
	}
	return &authnRequest{AuthnRequest: ar, app: app, config: cfg, acs: acs, relayState: m.relayState}, nil
}

// checkFields checks the request's own attributes.
func (h *Handler) checkFields(q *req, ar *saml.AuthnRequest, cfg *access.SAMLConfig, now time.Time) error {
	skew := time.Duration(cfg.ClockSkewSeconds) * time.Second
	switch {
	case ar.Version != "2.0": // SAML core §3.2.1
		return malformed("it is not SAML 2.0")
	case ar.ID == "" || len(ar.ID) > maxRequestID:
		return malformed("its ID is missing or too long")
	case ar.Issuer.Format != "" && ar.Issuer.Format != nameIDFormatEntity: // SAML profiles §4.1.4.1
		return malformed("its issuer is not an entity id")
	case ar.IssueInstant.IsZero():
		return malformed("it has no IssueInstant")
	case ar.IssueInstant.After(now.Add(skew)):
		return refuse(http.StatusBadRequest, "Clocks disagree",
			"The application's sign-in request is dated in the future. Its clock or Tessera's is wrong; tell the application's administrator.")
	case ar.IssueInstant.Add(maxRequestAge + skew).Before(now):
		return refuse(http.StatusBadRequest, "Sign-in request expired",
			"The application's sign-in request is too old. Go back to the application and sign in again.")
	}
	// SAML bindings §3.4.5.2, §3.5.5.2: a signed request must name where
	// it was sent, and any request that names it must name us.
	if (cfg.WantSignedRequests || ar.Destination != "") && ar.Destination != h.ssoURL(q.tenant) {
		return malformed("it was addressed to another destination")
	}
	return nil
}

// chooseACS picks the endpoint the answer goes to (SAML core §3.4.1): the
// one the request names by index, or by URL (compared exactly), or the
// application's default. Only registered endpoints qualify, and only with
// the HTTP-POST binding.
func chooseACS(ar *saml.AuthnRequest, cfg *access.SAMLConfig) (access.ACS, error) {
	var acs access.ACS
	var ok bool
	switch {
	case ar.AssertionConsumerServiceIndex != "":
		// The index excludes the URL and the binding (SAML core §3.4.1).
		if ar.AssertionConsumerServiceURL != "" || ar.ProtocolBinding != "" {
			return acs, malformed("it names its endpoint both by index and by URL or binding")
		}
		if i, err := strconv.Atoi(ar.AssertionConsumerServiceIndex); err == nil {
			acs, ok = cfg.ACSByIndex(i)
		}
		if !ok {
			return acs, refuse(http.StatusBadRequest, "Unregistered address",
				"The application asked for an endpoint index it has not registered. Tell the application's administrator.")
		}
	case ar.AssertionConsumerServiceURL != "":
		if acs, ok = cfg.ACSByURL(ar.AssertionConsumerServiceURL); !ok {
			return acs, refuse(http.StatusBadRequest, "Unregistered address",
				"The application asked for its answer to go to an address it has not registered: "+
					truncate(ar.AssertionConsumerServiceURL, 200)+". Tell the application's administrator.")
		}
	default:
		acs = cfg.DefaultACS()
	}
	if ar.ProtocolBinding != "" && ar.ProtocolBinding != access.BindingHTTPPost {
		return acs, refuse(http.StatusBadRequest, "Unsupported binding",
			"The application asked for its answer by a binding Tessera does not use; only HTTP-POST is supported.")
	}
	return acs, checkEndpoint(acs, cfg)
}

// checkEndpoint guards the response form: the configuration was checked
// when saved, but the form must never go anywhere else than an endpoint
// that can receive it.
func checkEndpoint(acs access.ACS, cfg *access.SAMLConfig) error {
	if acs.Binding != access.BindingHTTPPost || !postable(acs.URL, cfg.AllowInsecureACS) {
		return fmt.Errorf("registered endpoint %q of %s cannot receive a POST", acs.URL, cfg.App)
	}
	return nil
}

// postable reports whether u is somewhere a response form may go: an
// absolute https URL (http only where allowed for development), never a
// javascript: or data: URL, which would run in Tessera's origin
// (CVE-2023-45683).
func postable(u string, allowHTTP bool) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil {
		return false
	}
	return p.Scheme == "https" || (allowHTTP && p.Scheme == "http")
}
