// Package web is the HTTP plumbing every surface shares: handlers that return
// errors and the one place that maps them to RFC 9457 problem documents,
// strict JSON decoding, request ids, access logs, panics, security headers,
// metrics by route pattern, and the client address behind trusted proxies.
//
// It knows error kinds, not domains: it imports errkind and nothing above it.
package web
