// Package user owns user accounts: profile, emails, external ids, the
// lifecycle state machine, the tenant's profile schema, and passwords (policy,
// history, hashing and import through package password).
//
// Flow: Service validates input at the edge of the domain (normalising
// usernames and emails so that look-alikes collide), applies the lifecycle
// rules, and writes the change and its audit event in one store transaction.
// Every method takes a tenant.Scope; a user outside the scope is not found.
//
// It must not import net/http, database/sql, the store or any adapter.
package user
