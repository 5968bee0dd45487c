package api_test

import (
	"net/http"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/tessera-iam/tessera/internal/testkit"
)

type isoGroup struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Description    string  `json:"description"`
	OrganizationID *string `json:"organization_id"`
	ExternalID     *string `json:"external_id"`
	MemberCount    int     `json:"member_count"`
	Version        int64   `json:"version"`
}

func isoGroupOf(t *testing.T, env *testkit.Env, tok, gid string) isoGroup {
	t.Helper()
	res := env.Do(t, http.MethodGet, "/api/v1/groups/"+gid, tok, nil)
	isoExpect(t, res, http.StatusOK)
	var g isoGroup
	res.Decode(t, &g)
	return g
}

// isoIDsAt GETs a list and returns its ids, sorted.
func isoIDsAt(t *testing.T, env *testkit.Env, tok, path string) []string {
	t.Helper()
	res := env.Do(t, http.MethodGet, path, tok, nil)
	isoExpect(t, res, http.StatusOK)
	var out []string
	for _, it := range isoItems(t, res) {
		out = append(out, it.ID)
	}
	sort.Strings(out)
	return out
}

func isoSorted(ids ...string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func isoSame(a, b []string) bool { return len(a) == 0 && len(b) == 0 || slices.Equal(a, b) }

func TestIsoGroups(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		tok := env.AdminToken
		const groups = "/api/v1/groups"
		o1 := isoCreate(t, env, tok, "/api/v1/organizations", map[string]any{"name": "One"})
		o2 := isoCreate(t, env, tok, "/api/v1/organizations", map[string]any{"name": "Two"})
		alice := isoCreate(t, env, tok, "/api/v1/users", map[string]any{"username": "alice", "organization_id": o1})
		anna := isoCreate(t, env, tok, "/api/v1/users", map[string]any{"username": "anna", "organization_id": o1})
		otto := isoCreate(t, env, tok, "/api/v1/users", map[string]any{"username": "otto", "organization_id": o2})
		tina := isoCreate(t, env, tok, "/api/v1/users", map[string]any{"username": "tina"})

		t.Run("crud", func(t *testing.T) {
			res := env.Do(t, http.MethodPost, groups, tok, map[string]any{"name": "Auditors", "description": "read the books", "external_id": "ext-aud"})
			isoExpect(t, res, http.StatusCreated)
			var g isoGroup
			res.Decode(t, &g)
			if res.Header.Get("Location") != groups+"/"+g.ID || res.Header.Get("ETag") != `"1"` {
				t.Errorf("Location %q, ETag %q", res.Header.Get("Location"), res.Header.Get("ETag"))
			}
			if g.Name != "Auditors" || g.Description != "read the books" || g.OrganizationID != nil || g.ExternalID == nil ||
				*g.ExternalID != "ext-aud" || g.MemberCount != 0 || g.Version != 1 {
				t.Errorf("created %+v", g)
			}
			if got := isoGroupOf(t, env, tok, g.ID); !reflect.DeepEqual(got, g) {
				t.Errorf("read back %+v, created %+v", got, g)
			}
			// PATCH with If-Match: the current version succeeds, a stale one
			// is refused, a malformed tag is a bad request.
			res = env.Do(t, http.MethodPatch, groups+"/"+g.ID, tok, map[string]any{"description": "audits", "external_id": nil}, "If-Match", `"1"`)
			isoExpect(t, res, http.StatusOK)
			res.Decode(t, &g)
			if g.Description != "audits" || g.ExternalID != nil || g.Version != 2 || res.Header.Get("ETag") != `"2"` {
				t.Errorf("patched %+v, ETag %q", g, res.Header.Get("ETag"))
			}
			isoRefused(t, env, http.StatusPreconditionFailed, http.MethodPatch, groups+"/"+g.ID, tok, map[string]any{"name": "Late"}, "If-Match", `"1"`)
			isoRefused(t, env, http.StatusBadRequest, http.MethodPatch, groups+"/"+g.ID, tok, map[string]any{"name": "Late"}, "If-Match", `W/"x"`)
			isoRefused(t, env, http.StatusBadRequest, http.MethodPatch, groups+"/"+g.ID, tok, map[string]any{"name": nil})
			isoRefused(t, env, http.StatusBadRequest, http.MethodPatch, groups+"/"+g.ID, tok, map[string]any{"name": " "})
			isoRefused(t, env, http.StatusBadRequest, http.MethodPatch, groups+"/"+g.ID, tok, map[string]any{"organization_id": o1})
			isoRefused(t, env, http.StatusBadRequest, http.MethodPost, groups, tok, map[string]any{"name": ""})
			isoRefused(t, env, http.StatusBadRequest, http.MethodPost, groups, tok, map[string]any{"name": "X", "organization_id": "org_nope"})
			isoExpect(t, env.Do(t, http.MethodDelete, groups+"/"+g.ID, tok, nil), http.StatusNoContent)
			isoRefused(t, env, http.StatusNotFound, http.MethodGet, groups+"/"+g.ID, tok, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, groups+"/"+g.ID, tok, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodPatch, groups+"/"+g.ID, tok, map[string]any{"name": "Gone"})
		})

		t.Run("name unique per scope", func(t *testing.T) {
			wide := isoCreate(t, env, tok, groups, map[string]any{"name": "Sales"})
			isoRefused(t, env, http.StatusConflict, http.MethodPost, groups, tok, map[string]any{"name": "SALES"})
			in1 := isoCreate(t, env, tok, groups, map[string]any{"name": "Sales", "organization_id": o1})
			in2 := isoCreate(t, env, tok, groups, map[string]any{"name": "sales", "organization_id": o2})
			isoRefused(t, env, http.StatusConflict, http.MethodPost, groups, tok, map[string]any{"name": "Sales ", "organization_id": o1})
			// Renaming into a name taken in the same scope is a conflict;
			// in another scope it is fine.
			other1 := isoCreate(t, env, tok, groups, map[string]any{"name": "Support", "organization_id": o1})
			isoRefused(t, env, http.StatusConflict, http.MethodPatch, groups+"/"+other1, tok, map[string]any{"name": "sales"})
			isoExpect(t, env.Do(t, http.MethodPatch, groups+"/"+wide, tok, map[string]any{"name": "Support"}), http.StatusOK)
			if got := isoIDsAt(t, env, tok, groups+"?name_prefix=sal"); !slices.Equal(got, isoSorted(in1, in2)) {
				t.Errorf("name_prefix=sal: %v, want %v", got, isoSorted(in1, in2))
			}
			if got := isoIDsAt(t, env, tok, groups+"?organization_id="+o2); !slices.Equal(got, isoSorted(in2)) {
				t.Errorf("organization_id filter: %v", got)
			}
		})

		t.Run("memberships", func(t *testing.T) {
			team := isoCreate(t, env, tok, groups, map[string]any{"name": "Team", "organization_id": o1})
			everyone := isoCreate(t, env, tok, groups, map[string]any{"name": "Everyone"})
			member := func(g, u string) string { return groups + "/" + g + "/members/" + u }

			// Adding twice: 204 both times, one membership, and the second
			// call writes nothing.
			isoExpect(t, env.Do(t, http.MethodPut, member(team, alice), tok, nil), http.StatusNoContent)
			env.Unchanged(t, func() { isoExpect(t, env.Do(t, http.MethodPut, member(team, alice), tok, nil), http.StatusNoContent) })
			if g := isoGroupOf(t, env, tok, team); g.MemberCount != 1 {
				t.Errorf("member_count after adding twice = %d", g.MemberCount)
			}
			isoExpect(t, env.Do(t, http.MethodPut, member(team, anna), tok, nil), http.StatusNoContent)
			for _, u := range []string{alice, otto, tina} {
				isoExpect(t, env.Do(t, http.MethodPut, member(everyone, u), tok, nil), http.StatusNoContent)
			}

			// An organization's group holds only that organization's users.
			isoRefused(t, env, http.StatusBadRequest, http.MethodPut, member(team, otto), tok, nil)
			isoRefused(t, env, http.StatusBadRequest, http.MethodPut, member(team, tina), tok, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodPut, member(team, "usr_missing"), tok, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodPut, member("grp_missing", alice), tok, nil)
			// Removing a non-member, including one who could never be a
			// member (another organization's user).
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, member(everyone, anna), tok, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, member(team, "usr_missing"), tok, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, member(team, otto), tok, nil)
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, member(team, tina), tok, nil)

			if got, want := isoIDsAt(t, env, tok, groups+"/"+team+"/members"), isoSorted(alice, anna); !slices.Equal(got, want) {
				t.Errorf("members of team = %v, want %v", got, want)
			}
			if got, want := isoIDsAt(t, env, tok, groups+"/"+everyone+"/members"), isoSorted(alice, otto, tina); !slices.Equal(got, want) {
				t.Errorf("members of everyone = %v, want %v", got, want)
			}
			if got, want := isoIDsAt(t, env, tok, "/api/v1/users?group_id="+everyone), isoSorted(alice, otto, tina); !slices.Equal(got, want) {
				t.Errorf("users?group_id = %v, want %v", got, want)
			}
			if got, want := isoIDsAt(t, env, tok, "/api/v1/users/"+alice+"/groups"), isoSorted(team, everyone); !slices.Equal(got, want) {
				t.Errorf("groups of alice = %v, want %v", got, want)
			}
			if got, want := isoIDsAt(t, env, tok, groups+"?member="+otto), isoSorted(everyone); !slices.Equal(got, want) {
				t.Errorf("groups?member=otto = %v, want %v", got, want)
			}
			if got := isoIDsAt(t, env, tok, "/api/v1/users/"+anna+"/groups?limit=1"); len(got) != 1 {
				t.Errorf("limit=1 answered %d groups", len(got))
			}
			for g, want := range map[string]int{team: 2, everyone: 3} {
				if got := isoGroupOf(t, env, tok, g).MemberCount; got != want {
					t.Errorf("member_count of %s = %d, want %d", g, got, want)
				}
			}

			// Remove a member.
			isoExpect(t, env.Do(t, http.MethodDelete, member(team, anna), tok, nil), http.StatusNoContent)
			isoRefused(t, env, http.StatusNotFound, http.MethodDelete, member(team, anna), tok, nil)
			if got := isoIDsAt(t, env, tok, "/api/v1/users/"+anna+"/groups"); !isoSame(got, nil) {
				t.Errorf("anna still in %v", got)
			}

			// Deleting a group ends its memberships, and only its own.
			isoExpect(t, env.Do(t, http.MethodDelete, groups+"/"+everyone, tok, nil), http.StatusNoContent)
			if got, want := isoIDsAt(t, env, tok, "/api/v1/users/"+alice+"/groups"), isoSorted(team); !slices.Equal(got, want) {
				t.Errorf("groups of alice after delete = %v, want %v", got, want)
			}
			if got := isoIDsAt(t, env, tok, "/api/v1/users/"+otto+"/groups"); !isoSame(got, nil) {
				t.Errorf("otto still in %v", got)
			}
			if got := isoIDsAt(t, env, tok, "/api/v1/users?group_id="+everyone); !isoSame(got, nil) {
				t.Errorf("users of the deleted group: %v", got)
			}
			if got := isoGroupOf(t, env, tok, team).MemberCount; got != 1 {
				t.Errorf("member_count of team = %d", got)
			}
			// A new group with the deleted one's name starts empty.
			again := isoCreate(t, env, tok, groups, map[string]any{"name": "Everyone"})
			if got := isoIDsAt(t, env, tok, groups+"/"+again+"/members"); !isoSame(got, nil) {
				t.Errorf("recreated group has members %v", got)
			}

			// Deleting a user ends their memberships too.
			isoExpect(t, env.Do(t, http.MethodPost, "/api/v1/users/"+alice+"/lifecycle/deactivate", tok, nil), http.StatusOK)
			isoExpect(t, env.Do(t, http.MethodDelete, "/api/v1/users/"+alice, tok, nil), http.StatusNoContent)
			if got := isoGroupOf(t, env, tok, team).MemberCount; got != 0 {
				t.Errorf("member_count after deleting the member = %d", got)
			}
		})
	})
}
