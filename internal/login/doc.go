// Package login serves the pages people see: the hosted sign-in of each
// tenant at /t/{tenant}/login (identifier first, then password, then a
// second factor or its enrolment), recovery through links sent by mail
// (password reset, unlock, email verification), and the end-user portal at
// /t/{tenant}/ (application tiles, profile self-service, and a security page
// for the password, factors and sessions).
//
// Flow: every page resolves the tenant from the path, every form carries a
// CSRF token bound to a cookie (and cross-origin POSTs are refused), every
// POST is rate limited per client address, and the return URL a sign-in
// ends at must be one of this tenant's own pages. The rules live in the
// session domain; this package speaks HTTP and HTML, and runs the WebAuthn
// ceremonies (go-webauthn) whose results session keeps.
//
// It must not import store or another adapter, nor reveal through words,
// status or timing whether an account exists. Pages work without
// JavaScript, except WebAuthn.
package login
