package samlidp

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/tessera-iam/tessera/internal/access"
)

// The test sign-in (GET /t/{tenant}/saml/test/{app}): the IdP-initiated
// sign-in of launch, for the signed-in user, with every check of the real
// one, audited as app.sso with test=true; but instead of posting the
// response at once it shows it — the XML indented for reading, the name
// identifier and attribute values marked — with a button that posts it, as
// signed, to the application's default endpoint. The setup view of the
// admin API links here (access.SAMLIdP.TestSignIn).

// testSignIn runs the test sign-in to the application the path names.
func (h *Handler) testSignIn(q *req) error {
	a, err := h.answerTo(q, access.AppID(q.r.PathValue("app")), "")
	if err != nil {
		return err
	}
	a.relayState, a.test = a.config.RelayStateDefault, true
	return h.respondSignedIn(q, a)
}

// testData is what the test page shows.
type testData struct {
	postData
	NameID       string
	NameIDFormat string
	Attributes   []testAttribute
	Encrypted    bool
	XML          []xmlSegment
}

type testAttribute struct {
	Name   string
	Values []string
}

// xmlSegment is a piece of the response's XML text; Mark when it is a
// value to highlight. The template escapes every piece: the XML is user
// data and never becomes template.HTML.
type xmlSegment struct {
	Text string
	Mark bool
}

// showTest shows the response doc for a to the person testing, with a
// button that posts it.
func (h *Handler) showTest(q *req, a *answer, doc []byte, nameID *saml.NameID, attrs []saml.Attribute) error {
	u, err := url.Parse(a.acs)
	if err != nil {
		return err
	}
	d := testData{postData: postData{ACS: a.acs, SAMLResponse: base64.StdEncoding.EncodeToString(doc), RelayState: a.relayState, AppName: a.app.Name},
		NameID: nameID.Value, NameIDFormat: nameID.Format, Encrypted: a.config.EncryptAssertion}
	for _, at := range attrs {
		ta := testAttribute{Name: at.Name}
		for _, v := range at.Values {
			ta.Values = append(ta.Values, v.Value)
		}
		d.Attributes = append(d.Attributes, ta)
	}
	if d.XML, err = markedXML(doc); err != nil {
		return err
	}
	// The page may post to the endpoint's origin and nowhere else; it runs
	// no script: the person testing presses the button.
	setHeaders(q.w, q.nonce, u.Scheme+"://"+u.Host)
	h.render(q, http.StatusOK, "test", pageData{Title: "Test sign-in to " + a.app.Name, Data: d})
	return nil
}

// markedXML indents doc for reading and splits it into segments, the text
// of NameID and AttributeValue elements marked. Indenting changes only
// whitespace between elements; the form posts the bytes as signed.
func markedXML(doc []byte) ([]xmlSegment, error) {
	// A random placeholder stands for each marked value while the document
	// is indented: no value can contain it by chance or by design.
	mark := "\ue000" + newID() + "\ue001"
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		return nil, fmt.Errorf("read response for display: %w", err)
	}
	var texts []string
	for _, el := range d.FindElements("//*") {
		if (el.Tag == "NameID" || el.Tag == "AttributeValue") && len(el.ChildElements()) == 0 && el.Text() != "" {
			var b strings.Builder
			_ = xml.EscapeText(&b, []byte(el.Text()))
			texts = append(texts, b.String())
			el.SetText(mark)
		}
	}
	d.Indent(2)
	s, err := d.WriteToString()
	if err != nil {
		return nil, err
	}
	parts := strings.Split(s, mark)
	if len(parts) != len(texts)+1 {
		return nil, fmt.Errorf("marking response for display: %d placeholders for %d values", len(parts)-1, len(texts))
	}
	var out []xmlSegment
	for i, part := range parts {
		if i > 0 {
			out = append(out, xmlSegment{Text: texts[i-1], Mark: true})
		}
		if part != "" {
			out = append(out, xmlSegment{Text: part})
		}
	}
	return out, nil
}
