// Package access owns who may use which application: applications with their
// roles and seats, business roles and who holds them, assignments (of a user,
// a group or a business role to an application, with application roles), and
// the interval index that answers "who had access to X at T" and "what could
// U do at T, and through what".
//
// Flow: every change that can alter effective access (here, or a membership,
// a user's status or an organization's status elsewhere, through the hooks
// the server wires) ends with Refresh for the affected users, inside the same
// transaction. Refresh computes each user's grants now (direct + via groups +
// via business roles, only while the user and their organization are active
// and the application is active), diffs them with the user's open intervals,
// closes what ended and opens what began, and then checks seat limits. So the
// index is always exact, and "as of" questions are range scans, never replays.
//
// It must not import net/http, database/sql, the store or any adapter.
package access
