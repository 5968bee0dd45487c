// Package group owns groups and their memberships. A group is tenant-wide or
// belongs to one organization; an organization's group holds only that
// organization's users.
//
// Flow: Service checks scope and membership rules, then writes the change and
// its audit event in one store transaction.
//
// It must not import net/http, database/sql, the store or any adapter.
package group
