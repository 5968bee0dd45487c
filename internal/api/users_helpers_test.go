package api_test

// Helpers of the users suite (users_test.go). Every name starts with "u" so
// that the suites sharing package api_test cannot collide.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// uEmail and uUser mirror the user resource of the admin API.
type uEmail struct {
	Value    string `json:"value"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

type uUser struct {
	ID                string            `json:"id"`
	Username          string            `json:"username"`
	Emails            []uEmail          `json:"emails"`
	GivenName         string            `json:"given_name"`
	FamilyName        string            `json:"family_name"`
	DisplayName       string            `json:"display_name"`
	Phone             string            `json:"phone"`
	Locale            string            `json:"locale"`
	TimeZone          string            `json:"time_zone"`
	Attributes        map[string]any    `json:"attributes"`
	ExternalIDs       map[string]string `json:"external_ids"`
	OrganizationID    *string           `json:"organization_id"`
	Source            string            `json:"source"`
	Status            string            `json:"status"`
	Locked            bool              `json:"locked"`
	PasswordChangedAt *string           `json:"password_changed_at"`
	StatusChangedAt   *string           `json:"status_changed_at"`
	Version           int64             `json:"version"`
	CreatedAt         *string           `json:"created_at"`
	UpdatedAt         *string           `json:"updated_at"`
}

// uUserList is the list envelope.
type uUserList struct {
	Items      []uUser `json:"items"`
	NextCursor string  `json:"next_cursor"`
}

// uProblem is an RFC 9457 answer.
type uProblem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

func (p uProblem) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// Problem types (urn:tessera:problem:<suffix>).
const (
	uInvalid      = "invalid-request"
	uConflict     = "conflict"
	uNotFound     = "not-found"
	uPrecondition = "precondition-failed"
	uTooLarge     = "too-large"
	uUnsupported  = "unsupported-media-type"
)

// uReq is one request of a table.
type uReq struct {
	Method string
	Path   string
	Body   any      // nil, string/[]byte sent as is, or a value sent as JSON
	Header []string // name, value pairs
	Token  string   // "" means the admin token
}

// uEach runs fn on a fresh full server per database, after one request that
// stamps the admin token's last use: that first stamp is a write, and would
// otherwise show up in the first Env.Unchanged of a test.
func uEach(t *testing.T, fn func(t *testing.T, e *testkit.Env)) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		uWant(t, e.Do(t, "GET", "/api/v1/tenant", e.AdminToken, nil), http.StatusOK)
		fn(t, e)
	})
}

// uDo sends a request as the admin token.
func uDo(t testing.TB, e *testkit.Env, method, path string, body any, headers ...string) testkit.Response {
	t.Helper()
	return e.Do(t, method, path, e.AdminToken, body, headers...)
}

// uSend is uDo's request as a uReq.
func uSend(t testing.TB, e *testkit.Env, r uReq) testkit.Response {
	t.Helper()
	tok := r.Token
	if tok == "" {
		tok = e.AdminToken
	}
	return e.Do(t, r.Method, r.Path, tok, r.Body, r.Header...)
}

// uWant fails the test unless the answer has status.
func uWant(t testing.TB, res testkit.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
}

// uCheckProblem checks an error answer: status, problem+json, type, and that
// errors[] names every field in fields.
func uCheckProblem(t testing.TB, path string, res testkit.Response, status int, typ string, fields ...string) uProblem {
	t.Helper()
	if res.Status != status {
		t.Errorf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p uProblem
	if err := json.Unmarshal(res.Body, &p); err != nil {
		// Not Fatal: Env.Unchanged must still get to compare the data.
		t.Errorf("problem body: %v: %s", err, res.Body)
		return p
	}
	if want := "urn:tessera:problem:" + typ; p.Type != want {
		t.Errorf("type %q, want %q (%s)", p.Type, want, res.Body)
	}
	if p.Status != res.Status || p.Title != http.StatusText(res.Status) {
		t.Errorf("status/title in body %d %q disagree with the answer %d", p.Status, p.Title, res.Status)
	}
	if p.RequestID == "" || p.RequestID != res.Header.Get("X-Request-Id") {
		t.Errorf("request_id %q, header X-Request-Id %q", p.RequestID, res.Header.Get("X-Request-Id"))
	}
	if u, err := url.Parse(path); err == nil && p.Instance != u.Path {
		t.Errorf("instance %q, want %q", p.Instance, u.Path)
	}
	got := p.fields()
	for _, f := range fields {
		if !slices.Contains(got, f) {
			t.Errorf("errors[].field %q missing; got %q (%s)", f, got, res.Body)
		}
	}
	if len(fields) == 0 && len(got) > 0 && status != http.StatusBadRequest {
		t.Errorf("unexpected field errors %q", got)
	}
	return p
}

// uRefused sends r, checks it is refused as described, and that the database
// did not change.
func uRefused(t *testing.T, e *testkit.Env, r uReq, status int, typ string, fields ...string) uProblem {
	t.Helper()
	var p uProblem
	e.Unchanged(t, func() {
		p = uCheckProblem(t, r.Path, uSend(t, e, r), status, typ, fields...)
	})
	return p
}

// uDecodeUser decodes a user answer.
func uDecodeUser(t testing.TB, res testkit.Response) uUser {
	t.Helper()
	var u uUser
	res.Decode(t, &u)
	return u
}

// uETag checks the ETag header names version, and returns it.
func uETag(t testing.TB, res testkit.Response, version int64) string {
	t.Helper()
	want := fmt.Sprintf(`"%d"`, version)
	if got := res.Header.Get("ETag"); got != want {
		t.Errorf("ETag %q, want %q", got, want)
	}
	return want
}

// uCreateUser creates a user and checks 201, Location and ETag.
func uCreateUser(t testing.TB, e *testkit.Env, body map[string]any) uUser {
	t.Helper()
	res := uDo(t, e, "POST", "/api/v1/users", body)
	uWant(t, res, http.StatusCreated)
	u := uDecodeUser(t, res)
	if loc := res.Header.Get("Location"); loc != "/api/v1/users/"+u.ID {
		t.Errorf("Location %q, want /api/v1/users/%s", loc, u.ID)
	}
	uETag(t, res, u.Version)
	return u
}

// uNewUser creates a user with only a username.
func uNewUser(t testing.TB, e *testkit.Env, username string) uUser {
	t.Helper()
	return uCreateUser(t, e, map[string]any{"username": username})
}

// uGetUser reads a user and checks its ETag.
func uGetUser(t testing.TB, e *testkit.Env, id string) uUser {
	t.Helper()
	res := uDo(t, e, "GET", "/api/v1/users/"+id, nil)
	uWant(t, res, http.StatusOK)
	u := uDecodeUser(t, res)
	uETag(t, res, u.Version)
	return u
}

// uPatchUser patches a user (If-Match when ifMatch is set) expecting 200.
func uPatchUser(t testing.TB, e *testkit.Env, id string, patch any, ifMatch string) uUser {
	t.Helper()
	var hdr []string
	if ifMatch != "" {
		hdr = []string{"If-Match", ifMatch}
	}
	res := uDo(t, e, "PATCH", "/api/v1/users/"+id, patch, hdr...)
	uWant(t, res, http.StatusOK)
	u := uDecodeUser(t, res)
	uETag(t, res, u.Version)
	return u
}

// uOp runs a lifecycle operation expecting 200.
func uOp(t testing.TB, e *testkit.Env, id, op string) uUser {
	t.Helper()
	res := uDo(t, e, "POST", "/api/v1/users/"+id+"/lifecycle/"+op, nil)
	uWant(t, res, http.StatusOK)
	u := uDecodeUser(t, res)
	uETag(t, res, u.Version)
	return u
}

// uUserIn creates a user and walks it to status over the API.
func uUserIn(t testing.TB, e *testkit.Env, username, status string) uUser {
	t.Helper()
	switch status {
	case "staged":
		return uCreateUser(t, e, map[string]any{"username": username, "status": "staged"})
	case "active":
		return uNewUser(t, e, username)
	case "suspended":
		return uOp(t, e, uNewUser(t, e, username).ID, "suspend")
	case "deactivated":
		return uOp(t, e, uNewUser(t, e, username).ID, "deactivate")
	}
	t.Fatalf("no such status %q", status)
	return uUser{}
}

// uLock locks a user the way sign-in lockout does: the API offers no lock.
func uLock(t testing.TB, e *testkit.Env, id string) {
	t.Helper()
	if _, err := e.Server.Users.Transition(context.Background(), tenant.Scope{Tenant: uTenantID(t, e)}, user.ID(id), user.OpLock, 0); err != nil {
		t.Fatal(err)
	}
}

// uTenantID is the id of the admin token's tenant.
func uTenantID(t testing.TB, e *testkit.Env) tenant.ID {
	t.Helper()
	res := uDo(t, e, "GET", "/api/v1/tenant", nil)
	uWant(t, res, http.StatusOK)
	var v struct {
		ID string `json:"id"`
	}
	res.Decode(t, &v)
	return tenant.ID(v.ID)
}

// uPut sends PUT path body as the admin and expects 200.
func uPut(t testing.TB, e *testkit.Env, path string, body any) testkit.Response {
	t.Helper()
	res := uDo(t, e, "PUT", path, body)
	uWant(t, res, http.StatusOK)
	return res
}

// uCreateOrg creates an organization and returns its id.
func uCreateOrg(t testing.TB, e *testkit.Env, name string) string {
	t.Helper()
	res := uDo(t, e, "POST", "/api/v1/organizations", map[string]any{"name": name})
	uWant(t, res, http.StatusCreated)
	return uID(t, res)
}

// uCreateGroup creates a group with members and returns its id.
func uCreateGroup(t testing.TB, e *testkit.Env, name string, members ...string) string {
	t.Helper()
	res := uDo(t, e, "POST", "/api/v1/groups", map[string]any{"name": name})
	uWant(t, res, http.StatusCreated)
	g := uID(t, res)
	for _, m := range members {
		uWant(t, uDo(t, e, "PUT", "/api/v1/groups/"+g+"/members/"+m, nil), http.StatusNoContent)
	}
	return g
}

func uID(t testing.TB, res testkit.Response) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	res.Decode(t, &v)
	if v.ID == "" {
		t.Fatalf("no id in %s", res.Body)
	}
	return v.ID
}

// uCreateToken issues another API token with role, already used once.
func uCreateToken(t testing.TB, e *testkit.Env, name, role string) string {
	t.Helper()
	res := uDo(t, e, "POST", "/api/v1/tokens", map[string]any{"name": name, "role": role})
	uWant(t, res, http.StatusCreated)
	var v struct {
		Secret string `json:"secret"`
	}
	res.Decode(t, &v)
	uWant(t, e.Do(t, "GET", "/api/v1/tenant", v.Secret, nil), http.StatusOK)
	return v.Secret
}

// uList reads one page of users.
func uList(t testing.TB, e *testkit.Env, path string) (uUserList, testkit.Response) {
	t.Helper()
	res := uDo(t, e, "GET", path, nil)
	uWant(t, res, http.StatusOK)
	var l uUserList
	res.Decode(t, &l)
	return l, res
}

// uListIDs returns the ids of one page (the query must fit one page).
func uListIDs(t testing.TB, e *testkit.Env, query string) []string {
	t.Helper()
	l, _ := uList(t, e, "/api/v1/users?limit=500&"+query)
	if l.NextCursor != "" {
		t.Fatalf("%s: more than one page", query)
	}
	return uIDs(l.Items)
}

// uWalk follows rel="next" links from path and returns every page. It checks
// that Link and next_cursor agree and that only the last page lacks them.
func uWalk(t testing.TB, e *testkit.Env, path string) [][]uUser {
	t.Helper()
	var pages [][]uUser
	for path != "" {
		if len(pages) > 100 {
			t.Fatal("pagination does not end")
		}
		l, res := uList(t, e, path)
		pages = append(pages, l.Items)
		link := res.Header.Get("Link")
		if l.NextCursor == "" {
			if link != "" {
				t.Errorf("last page has Link %q", link)
			}
			break
		}
		next, ok := uNextLink(link)
		if !ok {
			t.Fatalf("page %d has next_cursor but Link %q", len(pages), link)
		}
		u, err := url.Parse(next)
		if err != nil || u.Query().Get("cursor") != l.NextCursor {
			t.Fatalf("Link %q does not carry next_cursor %q", link, l.NextCursor)
		}
		path = next
	}
	return pages
}

// uNextLink extracts the target of rel="next" from a Link header.
func uNextLink(link string) (string, bool) {
	target, params, ok := strings.Cut(link, ";")
	if !ok || strings.TrimSpace(params) != `rel="next"` {
		return "", false
	}
	target = strings.TrimSpace(target)
	if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
		return "", false
	}
	return target[1 : len(target)-1], true
}

func uIDs(us []uUser) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// uSameSet fails unless got and want hold the same ids.
func uSameSet(t testing.TB, what string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %q, want %q", what, g, w)
	}
}

// uClone deep-copies a user through JSON.
func uClone(t testing.TB, u uUser) uUser {
	t.Helper()
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	var c uUser
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// uStoredHash is the user's current password hash in the database.
func uStoredHash(t testing.TB, e *testkit.Env, tid tenant.ID, id string) string {
	t.Helper()
	hs, err := e.DB.PasswordHashes(context.Background(), tid, user.ID(id), 0)
	if err != nil {
		t.Fatal(err)
	}
	return hs[0]
}

// uRawResult is an answer read off a goroutine, where t.Fatal is not allowed.
type uRawResult struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
}

// uRaw sends a request without a testing.T, for goroutines.
func uRaw(e *testkit.Env, method, path string, body any, headers ...string) uRawResult {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return uRawResult{Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		return uRawResult{Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.AdminToken)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.Client.Do(req)
	if err != nil {
		return uRawResult{Err: err}
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(res.Body)
	return uRawResult{Status: res.StatusCode, Header: res.Header, Body: rb, Err: err}
}
