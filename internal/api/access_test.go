package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/testkit"
)

type accEnv struct {
	t *testing.T
	e *testkit.Env
}

func (a accEnv) post(path string, body any, want int) map[string]any {
	a.t.Helper()
	r := a.e.Do(a.t, http.MethodPost, path, a.e.AdminToken, body)
	if r.Status != want {
		a.t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
	}
	if len(r.Body) == 0 || r.Status >= 300 {
		return nil
	}
	return r.JSON(a.t)
}

func (a accEnv) do(method, path string, body any, want int) {
	a.t.Helper()
	if r := a.e.Do(a.t, method, path, a.e.AdminToken, body); r.Status != want {
		a.t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
}

// perms returns "app/role/via" strings of a user's permissions, now or at.
func (a accEnv) perms(user string, at time.Time) []string {
	a.t.Helper()
	path := "/api/v1/reports/user-permissions?user_id=" + user
	if !at.IsZero() {
		path += "&at=" + at.UTC().Format(time.RFC3339Nano)
	}
	var out struct {
		Items []struct {
			App   string  `json:"application_id"`
			Role  *string `json:"role"`
			Via   string  `json:"via"`
			ViaID *string `json:"via_id"`
		} `json:"items"`
	}
	r := a.e.Do(a.t, http.MethodGet, path, a.e.AdminToken, nil)
	if r.Status != http.StatusOK {
		a.t.Fatalf("permissions: %d %s", r.Status, r.Body)
	}
	r.Decode(a.t, &out)
	var s []string
	for _, it := range out.Items {
		role := "-"
		if it.Role != nil {
			role = *it.Role
		}
		s = append(s, it.App+"/"+role+"/"+it.Via)
	}
	slices.Sort(s)
	return s
}

func TestEffectiveAccessFollowsEveryPath(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		a := accEnv{t, e}
		org := a.post("/api/v1/organizations", map[string]any{"name": "Partner"}, 201)["id"].(string)
		app := a.post("/api/v1/applications", map[string]any{"name": "Returns portal", "kind": "saml",
			"roles": []map[string]any{{"name": "clerk"}, {"name": "approver"}}}, 201)["id"].(string)
		ada := a.post("/api/v1/users", map[string]any{"username": "ada", "organization_id": org}, 201)["id"].(string)
		grp := a.post("/api/v1/groups", map[string]any{"name": "Returns team"}, 201)["id"].(string)
		role := a.post("/api/v1/business-roles", map[string]any{"name": "Returns clerk"}, 201)["id"].(string)

		t0 := time.Now()
		if got := a.perms(ada, time.Time{}); len(got) != 0 {
			t.Fatalf("before any assignment: %v", got)
		}
		direct := a.post("/api/v1/applications/"+app+"/assignments", map[string]any{"principal_type": "user", "principal_id": ada, "roles": []string{"approver"}}, 201)["id"].(string)
		a.post("/api/v1/applications/"+app+"/assignments", map[string]any{"principal_type": "group", "principal_id": grp}, 201)
		a.post("/api/v1/applications/"+app+"/assignments", map[string]any{"principal_type": "business_role", "principal_id": role, "roles": []string{"clerk"}}, 201)
		a.do(http.MethodPut, "/api/v1/groups/"+grp+"/members/"+ada, nil, 204)
		a.do(http.MethodPut, "/api/v1/business-roles/"+role+"/holders/group/"+grp, nil, 204)
		want := []string{app + "/-/group", app + "/approver/direct", app + "/clerk/business_role"}
		if got := a.perms(ada, time.Time{}); !slices.Equal(got, want) {
			t.Fatalf("all paths: %v, want %v", got, want)
		}
		t1 := time.Now()

		// Suspending the user ends everything; unsuspending restores it.
		a.do(http.MethodPost, "/api/v1/users/"+ada+"/lifecycle/suspend", nil, 200)
		if got := a.perms(ada, time.Time{}); len(got) != 0 {
			t.Fatalf("suspended user keeps %v", got)
		}
		a.do(http.MethodPost, "/api/v1/users/"+ada+"/lifecycle/unsuspend", nil, 200)
		// Suspending the organization ends it too.
		a.do(http.MethodPatch, "/api/v1/organizations/"+org, map[string]any{"status": "suspended"}, 200)
		if got := a.perms(ada, time.Time{}); len(got) != 0 {
			t.Fatalf("user of a suspended organization keeps %v", got)
		}
		a.do(http.MethodPatch, "/api/v1/organizations/"+org, map[string]any{"status": "active"}, 200)
		// Leaving the group ends the group path and the role held via the group.
		a.do(http.MethodDelete, "/api/v1/groups/"+grp+"/members/"+ada, nil, 204)
		if got := a.perms(ada, time.Time{}); !slices.Equal(got, []string{app + "/approver/direct"}) {
			t.Fatalf("after leaving the group: %v", got)
		}
		// Dropping the approver role from the application drops it from the assignment.
		a.do(http.MethodPatch, "/api/v1/applications/"+app, map[string]any{"roles": []map[string]any{{"name": "clerk"}}}, 200)
		if got := a.perms(ada, time.Time{}); !slices.Equal(got, []string{app + "/-/direct"}) {
			t.Fatalf("after the role was removed: %v", got)
		}
		a.do(http.MethodDelete, "/api/v1/applications/"+app+"/assignments/"+direct, nil, 204)
		if got := a.perms(ada, time.Time{}); len(got) != 0 {
			t.Fatalf("after unassigning: %v", got)
		}

		// The past is still answerable.
		if got := a.perms(ada, t1); !slices.Equal(got, want) {
			t.Errorf("as of t1: %v, want %v", got, want)
		}
		if got := a.perms(ada, t0); len(got) != 0 {
			t.Errorf("as of t0: %v", got)
		}
		var accounts struct {
			Items []struct {
				UserID string `json:"user_id"`
			} `json:"items"`
		}
		e.Do(t, http.MethodGet, "/api/v1/reports/app-accounts?application_id="+app+"&at="+t1.UTC().Format(time.RFC3339Nano), e.AdminToken, nil).Decode(t, &accounts)
		if len(accounts.Items) != 1 || accounts.Items[0].UserID != ada {
			t.Errorf("accounts at t1: %+v", accounts.Items)
		}
		r := e.Do(t, http.MethodGet, "/api/v1/reports/access-changes?application_id="+app+"&since="+t0.UTC().Format(time.RFC3339Nano)+"&format=csv", e.AdminToken, nil)
		lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || lines[0] != "at,change,application_id,user_id,role,via,via_id" || len(lines) < 8 {
			t.Errorf("changes CSV: %d %s", r.Status, r.Body)
		}
	})
}

func TestSeatsAreNeverOversold(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, e *testkit.Env) {
		a := accEnv{t, e}
		app := a.post("/api/v1/applications", map[string]any{"name": "CRM", "kind": "oidc", "seats": 2}, 201)["id"].(string)
		grp := a.post("/api/v1/groups", map[string]any{"name": "Sales"}, 201)["id"].(string)
		var users []string
		for _, n := range []string{"u1", "u2", "u3"} {
			users = append(users, a.post("/api/v1/users", map[string]any{"username": n}, 201)["id"].(string))
		}
		a.post("/api/v1/applications/"+app+"/assignments", map[string]any{"principal_type": "user", "principal_id": users[0]}, 201)
		a.post("/api/v1/applications/"+app+"/assignments", map[string]any{"principal_type": "group", "principal_id": grp}, 201)
		a.do(http.MethodPut, "/api/v1/groups/"+grp+"/members/"+users[1], nil, 204)
		// The third user would be one too many, whichever path brings them.
		e.Unchanged(t, func() {
			a.do(http.MethodPut, "/api/v1/groups/"+grp+"/members/"+users[2], nil, 409)
			a.post("/api/v1/applications/"+app+"/assignments", map[string]any{"principal_type": "user", "principal_id": users[2]}, 409)
			a.do(http.MethodPatch, "/api/v1/applications/"+app, map[string]any{"seats": 1}, 409)
		})
		var seats struct{ Licensed, Used, Remaining int }
		e.Do(t, http.MethodGet, "/api/v1/applications/"+app+"/seats", e.AdminToken, nil).Decode(t, &seats)
		if seats.Licensed != 2 || seats.Used != 2 || seats.Remaining != 0 {
			t.Errorf("seats = %+v", seats)
		}
		// A user already counted does not take a second seat through a second path.
		a.do(http.MethodPut, "/api/v1/groups/"+grp+"/members/"+users[0], nil, 204)
	})
}
