// Package tenant owns tenants (the operators running Tessera) and the
// organizations inside them (their customer and partner companies), with each
// organization's domains and their verification.
//
// Flow: Service validates input, then changes the store inside one transaction
// together with the audit event. Scope carries who may see what: a tenant-wide
// scope sees every organization, an organization scope only its own; anything
// outside the scope is simply not found.
//
// It must not import net/http, database/sql, the store or any adapter.
package tenant
