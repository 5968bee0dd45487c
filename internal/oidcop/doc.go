// Package oidcop is each tenant's OpenID Provider and OAuth 2.0
// authorization server, built on zitadel/oidc's op package (its Storage
// path) with one provider for every tenant: a request's tenant comes from
// its path, and the issuer is /t/{tenant} on the public URL.
//
// Main flow: the authorize endpoint records the request (grant.Service),
// bound to the browser by a cookie, and sends the browser to
// /oauth2/login, which weighs its session (prompt, max_age, the
// application's MFA policy), has it sign in on the sign-in pages when
// needed, checks the user's access and consent, and hands over to the
// library's callback, which issues the code. The token endpoint redeems it
// once; storage issues the tokens and mints access tokens itself (RFC 9068
// JWTs or opaque values, per client). Userinfo, introspection and
// revocation resolve tokens through the grant service, which checks that
// the user still has access.
//
// It must not keep state of its own (every node serves any request), and
// it never trusts the request's Host: URLs come from the public URL.
package oidcop
