// Package grant keeps what the OpenID provider hands out: authorization
// requests and their codes, grants (what one authorization gave one client),
// access and refresh tokens, and users' consent to third-party
// applications.
//
// Main flow: the oidcop adapter records a Request at the authorize endpoint,
// completes it once the browser's session is known and access is allowed,
// issues a code, and redeems it exactly once at the token endpoint (CodeRequest, then Issue);
// a second redemption revokes whatever the first one issued. Issue then
// creates the grant and its tokens; Refresh and Rotate keep a refresh-token
// family going, and a rotated token presented again revokes the family.
// Every use checks that the user may still use the application now ("access
// follows the user").
//
// The package stores only digests of codes and tokens; it never formats or
// signs tokens (that is the adapter's), and it knows nothing of HTTP.
package grant
