// Package samlidp is Tessera's SAML 2.0 identity provider toward
// applications of kind saml: each tenant's IdP metadata, single sign-on
// started by the application (HTTP-Redirect and HTTP-POST bindings) or from
// the portal (IdP-initiated), and the signed responses that carry users'
// assertions to the applications' registered endpoints.
//
// Flow: an AuthnRequest is decoded within size caps, parsed without DTDs
// and checked before anything is trusted: its issuer must be an active SAML
// application of the tenant, its signature valid under the application's
// certificate when the application signs its requests (SHA-1 only where
// allowed), its issue instant recent, its Destination ours, its endpoint one
// the application registered, and its id new (ids are kept until they
// expire, written in the transaction that records the answer:
// session.RecordAnswer). A browser that is signed in (and, for ForceAuthn,
// signed in after the request) gets the answer at once; otherwise the
// request is held (session.HoldRequest) while the browser signs in at the
// login pages, and /saml/resume picks it up. The answer is given
// only while the user, their organization and their effective access to the
// application allow it; every answer and refusal is an app.sso audit event.
// Responses and assertions are built from crewjam/saml's types, signed with
// the tenant's active SAML key through goxmldsig (exclusive C14N,
// RSA-SHA256), the assertion encrypted (AES-256-GCM, RSA-OAEP) when the
// application asks, and posted to the application by an auto-submitting
// form.
//
// It must not import store or another adapter, redirect or post to an
// endpoint the application did not register, answer a request twice, or
// trust anything in a request before its signature (when required) is
// verified.
//
// Single logout (slo.go, SAML profiles §4.4, front channel): each assertion
// records its application as a participant of the session
// (session.AddSSOParticipant); a signed LogoutRequest at /saml/slo that
// names the browser's session ends it, and the other participants with an
// SLO endpoint are sent signed LogoutRequests in turn, their answers
// awaited under single-use secrets (the RelayState) before the initiator
// gets its LogoutResponse. The portal's sign-out hands an ended session
// with participants to /saml/logout/start, which runs the same chain.
// Logout messages must always be signed by the application's certificate.
//
// Test sign-in (setup.go): /saml/test/{app} runs the IdP-initiated sign-in
// for the signed-in user but shows the response (escaped, values marked)
// with a button that posts it, instead of posting it at once. The URLs the
// IdP serves come from access.SAMLIdP, which the admin API's setup view
// shows too.
package samlidp
