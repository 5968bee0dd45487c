// Package api is the admin REST API under /api/v1: JSON in snake_case,
// string ids, RFC 3339 times, RFC 9457 errors, cursor pagination, ETag and
// If-Match on updates, Idempotency-Key on creates.
//
// Flow: every request is authenticated by a bearer API token, which gives a
// tenant.Scope (tenant-wide or one organization) and a role; the handler
// checks the role, decodes strictly, calls one domain service and renders
// its answer. Scope is enforced again inside the services.
//
// routes.go lists every route; one file per resource. It must not import the
// store or another adapter.
package api
