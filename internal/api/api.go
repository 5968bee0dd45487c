package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/idempotency"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/web"
)

// API serves /api/v1.
type API struct {
	Tenants     *tenant.Service
	Users       *user.Service
	Groups      *group.Service
	Tokens      *apitoken.Service
	Access      *access.Service
	Audit       *audit.Service
	Sessions    *session.Service
	Keys        *keys.Service
	Grants      *grant.Service
	Idempotency idempotency.Store
	Log         *slog.Logger
	Now         func() time.Time
	MaxBody     int64 // request body cap in bytes
	// PublicURL is the external base URL (scheme://host[:port]) that the
	// protocol endpoints shown in setup views are built on.
	PublicURL string
	// Outbound limits the API's own requests to other servers (SP metadata
	// by URL); the zero value reaches public addresses only.
	Outbound Outbound
}

type principalKey struct{}

// principal returns the token that authenticated the request.
func principal(r *http.Request) *apitoken.Token {
	return r.Context().Value(principalKey{}).(*apitoken.Token)
}

func scope(r *http.Request) tenant.Scope { return principal(r).Scope() }

// authenticate resolves the bearer token and records the actor for audit.
func (a *API) authenticate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, secret, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			web.WriteProblem(w, r, fmt.Errorf("send Authorization: Bearer <api token>: %w", errkind.Unauthenticated))
			return
		}
		tok, err := a.Tokens.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			if p := web.WriteProblem(w, r, err); p.Status >= 500 {
				a.Log.ErrorContext(r.Context(), "authenticate", "err", err)
			}
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, tok)
		ctx = audit.WithActor(ctx, audit.Actor{Type: "api_token", ID: string(tok.ID), ClientIP: web.ClientIP(ctx),
			UserAgent: truncate(r.UserAgent(), 256), RequestID: web.RequestID(ctx)})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// need is the access level a route requires.
type need int

const (
	read       need = iota // any role
	manageUser             // user-manager or admin
	administer             // admin only
)

var errRole = fmt.Errorf("this api token's role does not allow this: %w", errkind.Denied)

// allow wraps a handler with the role it needs.
func (a *API) allow(level need, h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		role := principal(r).Role
		ok := role == apitoken.Admin || level == read || (level == manageUser && role == apitoken.UserManager)
		if !ok {
			return errRole
		}
		return h(w, r)
	}
}

// etag renders a version as a strong entity tag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// neverMatches is a version no resource has: If-Match with only weak tags
// never matches, because If-Match compares strongly (RFC 9110 §13.1.1).
const neverMatches = -1

// ifMatch returns the version If-Match demands, 0 when absent or "*".
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	if strings.Contains(v, ",") {
		return 0, errkind.Field("If-Match", "give one entity tag")
	}
	weak := strings.HasPrefix(v, "W/")
	v = strings.TrimPrefix(v, "W/")
	n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	if err != nil || n < 1 || len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, errkind.Field("If-Match", `must be an entity tag from this API, such as "3"`)
	}
	if weak {
		return neverMatches, nil
	}
	return n, nil
}

// writeVersioned writes a resource with its ETag.
func writeVersioned(w http.ResponseWriter, status int, version int64, v any) error {
	w.Header().Set("ETag", etag(version))
	web.JSON(w, status, v)
	return nil
}

// listOf is the envelope of every list answer.
type listOf[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func writeList[T any](w http.ResponseWriter, r *http.Request, items []T, next string) error {
	if items == nil {
		items = []T{}
	}
	if next != "" {
		q := r.URL.Query()
		q.Set("cursor", next)
		w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	web.JSON(w, http.StatusOK, listOf[T]{Items: items, NextCursor: next})
	return nil
}

// knownParams refuses query parameters a list does not understand: a typo
// such as "stauts=active" must not silently return everything.
func knownParams(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		if !slices.Contains(allowed, k) {
			return errkind.Field(k, "is not a parameter of this list")
		}
	}
	return nil
}

func timeText(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
