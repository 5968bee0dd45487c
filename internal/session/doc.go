// Package session owns how a person proves who they are to Tessera and stays
// signed in: browser sessions (server-side, revocable, idle and absolute
// timeouts), the sign-in policy of a tenant and its organizations and
// applications (MFA required or optional, lockout, branding), throttling of
// failed sign-ins with progressive delay and lockout, second factors (TOTP
// with recovery codes; WebAuthn credentials kept as opaque records), and
// single-use expiring tokens for links sent by mail and for sign-ins waiting
// on a second factor.
//
// Main flow: SignIn checks a password (through user.Service, which equalises
// timing for unknown accounts), applies the throttle, and returns either a
// new session or a pending second-factor step; CompleteMFA turns that step
// into a session. Every attempt, lockout, factor change and revocation is an
// audit event in the transaction of the change.
//
// It must not speak HTTP or HTML (the login adapter does, including the
// WebAuthn ceremonies), and never stores a secret it can avoid: session
// tokens, link tokens and recovery codes are kept as digests, TOTP secrets
// sealed with the master key.
package session
