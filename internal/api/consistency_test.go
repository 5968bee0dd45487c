package api_test

import (
	"net/http"
	"testing"

	"github.com/tessera-iam/tessera/internal/testkit"
)

// Moving a user to another organization ends their memberships in the old
// organization's groups in the same change, and keeps tenant-wide ones.
func TestMovingUserDropsOldOrganizationGroups(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		tok := e.AdminToken
		create := func(path string, body any) string {
			t.Helper()
			r := e.Do(t, http.MethodPost, path, tok, body)
			if r.Status != http.StatusCreated {
				t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
			}
			return r.JSON(t)["id"].(string)
		}
		o1 := create("/api/v1/organizations", map[string]any{"name": "One"})
		o2 := create("/api/v1/organizations", map[string]any{"name": "Two"})
		u := create("/api/v1/users", map[string]any{"username": "mover", "organization_id": o1})
		g1 := create("/api/v1/groups", map[string]any{"name": "Team", "organization_id": o1})
		all := create("/api/v1/groups", map[string]any{"name": "Everyone"})
		for _, g := range []string{g1, all} {
			if r := e.Do(t, http.MethodPut, "/api/v1/groups/"+g+"/members/"+u, tok, nil); r.Status != http.StatusNoContent {
				t.Fatalf("add member: %d %s", r.Status, r.Body)
			}
		}
		if r := e.Do(t, http.MethodPatch, "/api/v1/users/"+u, tok, map[string]any{"organization_id": o2}); r.Status != http.StatusOK {
			t.Fatalf("move: %d %s", r.Status, r.Body)
		}
		var groups struct {
			Items []struct{ ID string } `json:"items"`
		}
		e.Do(t, http.MethodGet, "/api/v1/users/"+u+"/groups", tok, nil).Decode(t, &groups)
		if len(groups.Items) != 1 || groups.Items[0].ID != all {
			t.Fatalf("groups after move = %+v, want only the tenant-wide group %s", groups.Items, all)
		}
	})
}

// A username and another user's email share one sign-in namespace: no string
// may name two accounts, whichever way round they are created.
func TestUsernamesAndEmailsShareOneNamespace(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		post := func(body map[string]any) int {
			return e.Do(t, http.MethodPost, "/api/v1/users", e.AdminToken, body).Status
		}
		if s := post(map[string]any{"username": "Dave@Example.com"}); s != http.StatusCreated {
			t.Fatalf("first: %d", s)
		}
		e.Unchanged(t, func() {
			if s := post(map[string]any{"username": "frank", "emails": []map[string]any{{"value": "dave@example.com"}}}); s != http.StatusConflict {
				t.Errorf("email equal to another user's username: %d, want 409", s)
			}
		})
		if s := post(map[string]any{"username": "erin", "emails": []map[string]any{{"value": "erin.e@example.com"}}}); s != http.StatusCreated {
			t.Fatalf("erin: %d", s)
		}
		e.Unchanged(t, func() {
			if s := post(map[string]any{"username": "ERIN.E@example.com"}); s != http.StatusConflict {
				t.Errorf("username equal to another user's email: %d, want 409", s)
			}
		})
		// A user's own username may equal its own email, and renaming frees the old key.
		r := e.Do(t, http.MethodGet, "/api/v1/users?username_prefix=erin", e.AdminToken, nil)
		id := r.JSON(t)["items"].([]any)[0].(map[string]any)["id"].(string)
		if r := e.Do(t, http.MethodPatch, "/api/v1/users/"+id, e.AdminToken, map[string]any{"username": "erin2"}); r.Status != http.StatusOK {
			t.Fatalf("rename: %d %s", r.Status, r.Body)
		}
		if s := post(map[string]any{"username": "erin"}); s != http.StatusCreated {
			t.Errorf("old username not freed: %d", s)
		}
	})
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	e := testkit.NewServer(t, testkit.OpenSQLite(t))
	r := e.Do(t, http.MethodPost, "/api/v1/tenant", e.AdminToken, map[string]any{})
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, PATCH" ||
		r.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST /api/v1/tenant: %d Allow=%q %s", r.Status, r.Header.Get("Allow"), r.Body)
	}
	if r := e.Do(t, http.MethodGet, "/api/v1/nothing-here", e.AdminToken, nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown route: %d", r.Status)
	}
}

// Replacing the password policy with members left out keeps their defaults:
// omitting check_breached must not silently switch that protection off.
func TestPasswordPolicyOmittedMembersKeepDefaults(t *testing.T) {
	e := testkit.NewServer(t, testkit.OpenSQLite(t))
	r := e.Do(t, http.MethodPut, "/api/v1/tenant/password-policy", e.AdminToken, map[string]any{"min_length": 16})
	p := r.JSON(t)
	if r.Status != http.StatusOK || p["min_length"] != 16.0 || p["check_breached"] != true || p["disallow_user_info"] != true {
		t.Fatalf("PUT with one member: %d %s", r.Status, r.Body)
	}
	if got := e.Do(t, http.MethodGet, "/api/v1/tenant/password-policy", e.AdminToken, nil).JSON(t); got["min_length"] != 16.0 || got["check_breached"] != true {
		t.Errorf("stored policy: %v", got)
	}
}
