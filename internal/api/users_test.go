package api_test

// HTTP tests of the user half of the admin API: users, their lifecycle and
// passwords, the tenant's password policy and profile schema. Each test runs a
// full server behind httptest on SQLite and on PostgreSQL (testkit.EachServer).

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// uSchema declares one attribute of every kind the tests use.
var uSchema = map[string]any{"attributes": []map[string]any{
	{"name": "department", "type": "string", "enum": []string{"engineering", "sales"}},
	{"name": "level", "type": "integer"},
	{"name": "start_date", "type": "date"},
	{"name": "tags", "type": "string_list"},
	{"name": "contractor", "type": "boolean"},
}}

func TestUserCRUD(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		uPut(t, e, "/api/v1/tenant/profile-schema", uSchema)
		org := uCreateOrg(t, e, "Analytical Engines")

		res := uDo(t, e, "POST", "/api/v1/users", map[string]any{
			"username": "ada",
			"emails": []map[string]any{
				{"value": "ada@Example.COM", "primary": true, "verified": true},
				{"value": "countess@example.org"},
			},
			"given_name": "Ada", "family_name": "Lovelace", "display_name": "The Countess",
			"phone": "+442079460000", "locale": "en-gb", "time_zone": "Europe/London",
			"attributes": map[string]any{"department": "engineering", "level": 7, "start_date": "1843-07-01",
				"tags": []string{"math", "poetry"}, "contractor": false},
			"external_ids":    map[string]string{"crm": "C-1", "ldap": "uid=ada"},
			"organization_id": org,
			"status":          "staged",
		})
		uWant(t, res, http.StatusCreated)
		created := uDecodeUser(t, res)
		if loc := res.Header.Get("Location"); loc != "/api/v1/users/"+created.ID {
			t.Errorf("Location %q", loc)
		}
		uETag(t, res, 1)
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		// The exact shape of the resource.
		var keys []string
		for k := range res.JSON(t) {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		wantKeys := []string{"attributes", "created_at", "display_name", "emails", "external_ids", "family_name",
			"given_name", "id", "locale", "locked", "organization_id", "password_changed_at", "phone", "source",
			"status", "status_changed_at", "time_zone", "updated_at", "username", "version"}
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("user members %q, want %q", keys, wantKeys)
		}
		want := uUser{
			ID: created.ID, Username: "ada",
			Emails:    []uEmail{{"ada@example.com", true, true}, {"countess@example.org", false, false}},
			GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "The Countess", Phone: "+442079460000",
			Locale: "en-GB", TimeZone: "Europe/London",
			Attributes: map[string]any{"department": "engineering", "level": 7.0, "start_date": "1843-07-01",
				"tags": []any{"math", "poetry"}, "contractor": false},
			ExternalIDs:    map[string]string{"crm": "C-1", "ldap": "uid=ada"},
			OrganizationID: &org, Source: "local", Status: "staged", Version: 1,
			StatusChangedAt: created.StatusChangedAt, CreatedAt: created.CreatedAt, UpdatedAt: created.UpdatedAt,
		}
		if !strings.HasPrefix(created.ID, "usr_") || created.CreatedAt == nil || created.UpdatedAt == nil || created.StatusChangedAt == nil {
			t.Errorf("id or times missing: %+v", created)
		}
		if !reflect.DeepEqual(created, want) {
			t.Errorf("created\n got %+v\nwant %+v", created, want)
		}
		if got := uGetUser(t, e, created.ID); !reflect.DeepEqual(got, created) {
			t.Errorf("GET\n got %+v\nwant %+v", got, created)
		}
		uRefused(t, e, uReq{Method: "GET", Path: "/api/v1/users/usr_00000000000000000000000000"}, 404, uNotFound)

		// PATCH is a JSON merge patch: an absent member keeps its value,
		// null clears it, and inside attributes and external_ids a null
		// member removes that one entry.
		steps := []struct {
			name  string
			patch string
			want  func(u *uUser) // applied to the previous state
		}{
			{"empty patch changes nothing", `{}`, nil},
			{"same value changes nothing", `{"given_name": "Ada", "attributes": {"level": 7}}`, nil},
			{"one member, the rest kept", `{"given_name": "Augusta"}`, func(u *uUser) { u.GivenName = "Augusta" }},
			{"null clears optional fields",
				`{"phone": null, "locale": null, "time_zone": null, "display_name": null, "organization_id": null}`,
				func(u *uUser) { u.Phone, u.Locale, u.TimeZone, u.DisplayName, u.OrganizationID = "", "", "", "", nil }},
			{"attributes: null member removes it, others merge",
				`{"attributes": {"department": null, "level": 8, "tags": ["engines"]}}`,
				func(u *uUser) {
					delete(u.Attributes, "department")
					u.Attributes["level"], u.Attributes["tags"] = 8.0, []any{"engines"}
				}},
			{"external_ids: null member removes it, others merge",
				`{"external_ids": {"crm": null, "hr": "H-9"}}`,
				func(u *uUser) { delete(u.ExternalIDs, "crm"); u.ExternalIDs["hr"] = "H-9" }},
			{"emails replaced as a whole", `{"emails": [{"value": "ada@engines.example"}]}`,
				func(u *uUser) { u.Emails = []uEmail{{"ada@engines.example", true, false}} }},
			{"values set again", `{"organization_id": "` + org + `", "locale": "fr-ca", "phone": "+14155550100"}`,
				func(u *uUser) { u.OrganizationID, u.Locale, u.Phone = &org, "fr-CA", "+14155550100" }},
			{"emails null removes all", `{"emails": null}`, func(u *uUser) { u.Emails = []uEmail{} }},
			{"username", `{"username": "ada.lovelace", "family_name": "King"}`,
				func(u *uUser) { u.Username, u.FamilyName = "ada.lovelace", "King" }},
			{"patch with both kinds of null", `{"attributes": {"tags": null}, "external_ids": {"nobody": null}, "phone": null}`,
				func(u *uUser) { delete(u.Attributes, "tags"); u.Phone = "" }},
			// RFC 7396: a null member removes the member, here the whole map.
			{"attributes null removes them all", `{"attributes": null}`,
				func(u *uUser) { u.Attributes = map[string]any{} }},
			{"external_ids null removes them all", `{"external_ids": null}`,
				func(u *uUser) { u.ExternalIDs = map[string]string{} }},
		}
		prev := created
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				got := uPatchUser(t, e, prev.ID, s.patch, "")
				want := uClone(t, prev)
				if s.want != nil {
					s.want(&want)
					want.Version++
					want.UpdatedAt = got.UpdatedAt
					if got.UpdatedAt == nil || uTimeKey(t, *got.UpdatedAt) <= uTimeKey(t, *prev.UpdatedAt) {
						t.Errorf("updated_at not after %s: the PATCH changed nothing", *prev.UpdatedAt)
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("after PATCH %s\n got %+v\nwant %+v", s.patch, got, want)
				}
				if read := uGetUser(t, e, prev.ID); !reflect.DeepEqual(read, got) {
					t.Errorf("GET after PATCH\n got %+v\nwant %+v", read, got)
				}
				prev = got
			})
		}

		// DELETE only once deactivated.
		path := "/api/v1/users/" + created.ID
		if u := uPatchUser(t, e, created.ID, `{"external_ids": {"ldap": "uid=ada"}}`, ""); u.ExternalIDs["ldap"] != "uid=ada" {
			t.Fatalf("external ids %v", u.ExternalIDs)
		}
		uRefused(t, e, uReq{Method: "DELETE", Path: path}, 409, uConflict)
		uOp(t, e, created.ID, "activate")
		uRefused(t, e, uReq{Method: "DELETE", Path: path}, 409, uConflict)
		uOp(t, e, created.ID, "suspend")
		uRefused(t, e, uReq{Method: "DELETE", Path: path}, 409, uConflict)
		uOp(t, e, created.ID, "deactivate")
		res = uDo(t, e, "DELETE", path, nil)
		uWant(t, res, http.StatusNoContent)
		if len(res.Body) != 0 {
			t.Errorf("204 with a body: %q", res.Body)
		}
		uRefused(t, e, uReq{Method: "GET", Path: path}, 404, uNotFound)
		uRefused(t, e, uReq{Method: "DELETE", Path: path}, 404, uNotFound)
		uRefused(t, e, uReq{Method: "PATCH", Path: path, Body: `{"given_name": "x"}`}, 404, uNotFound)
		if ids := uListIDs(t, e, ""); slices.Contains(ids, created.ID) {
			t.Errorf("deleted user still listed")
		}
		// Its username and external ids are free again.
		again := uCreateUser(t, e, map[string]any{"username": "ada.lovelace", "external_ids": map[string]string{"ldap": "uid=ada"}})
		if again.ID == created.ID {
			t.Errorf("id reused")
		}
	})
}

func TestUserBadInput(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		schema := map[string]any{"attributes": []map[string]any{
			{"name": "cost_center", "type": "string", "required": true},
			{"name": "level", "type": "integer"},
		}}
		uPut(t, e, "/api/v1/tenant/profile-schema", schema)
		cc := map[string]any{"cost_center": "cc-1"}
		existing := uCreateUser(t, e, map[string]any{"username": "existing", "attributes": cc})
		uCreateUser(t, e, map[string]any{"username": "existing2", "attributes": cc})
		users := "/api/v1/users"
		one := "/api/v1/users/" + existing.ID
		first, _ := uList(t, e, users+"?limit=1")
		if first.NextCursor == "" {
			t.Fatal("no cursor")
		}
		big := `{"username": "` + strings.Repeat("a", 1<<20) + `", "attributes": {"cost_center": "x"}}`
		// valid, with fields added by each case
		create := func(extra string) string {
			return `{"username": "newbie", "attributes": {"cost_center": "cc-1"}` + extra + `}`
		}
		cases := []struct {
			name   string
			req    uReq
			status int
			typ    string
			fields []string
		}{
			// The body as JSON.
			{"malformed JSON", uReq{Body: `{"username": "newbie",`}, 400, uInvalid, []string{"body"}},
			{"JSON syntax error", uReq{Body: `{"username" "newbie"}`}, 400, uInvalid, []string{"body"}},
			{"empty body", uReq{Body: ""}, 400, uInvalid, []string{"body"}},
			{"array instead of object", uReq{Body: `[` + create("") + `]`}, 400, uInvalid, []string{"body"}},
			{"string instead of object", uReq{Body: `"newbie"`}, 400, uInvalid, []string{"body"}},
			{"two JSON values", uReq{Body: create("") + create("")}, 400, uInvalid, []string{"body"}},
			{"trailing garbage", uReq{Body: create("") + ` x`}, 400, uInvalid, []string{"body"}},
			{"oversized body", uReq{Body: big}, 413, uTooLarge, nil},
			{"oversized body with Idempotency-Key", uReq{Body: big, Header: []string{"Idempotency-Key", "big-1"}}, 413, uTooLarge, nil},
			{"text/plain", uReq{Body: create(""), Header: []string{"Content-Type", "text/plain"}}, 415, uUnsupported, nil},
			{"form encoded", uReq{Body: "username=newbie", Header: []string{"Content-Type", "application/x-www-form-urlencoded"}}, 415, uUnsupported, nil},
			{"no Content-Type", uReq{Body: create(""), Header: []string{"Content-Type", ""}}, 415, uUnsupported, nil},
			// Types and names of fields.
			{"given_name a number", uReq{Body: create(`, "given_name": 5`)}, 400, uInvalid, []string{"given_name"}},
			{"username a bool", uReq{Body: `{"username": true}`}, 400, uInvalid, []string{"username"}},
			{"emails a string", uReq{Body: create(`, "emails": "a@example.com"`)}, 400, uInvalid, []string{"emails"}},
			{"attributes an array", uReq{Body: `{"username": "newbie", "attributes": []}`}, 400, uInvalid, []string{"attributes"}},
			{"external_ids value a number", uReq{Body: create(`, "external_ids": {"crm": 5}`)}, 400, uInvalid, []string{"external_ids.crm"}},
			{"unknown field", uReq{Body: create(`, "nickname": "nb"`)}, 400, uInvalid, []string{"nickname"}},
			{"unknown field differing in case", uReq{Body: create(`, "GivenName": "N"`)}, 400, uInvalid, []string{"GivenName"}},
			// Values.
			{"no username nor email", uReq{Body: `{"attributes": {"cost_center": "x"}}`}, 400, uInvalid, []string{"username"}},
			{"username with control character", uReq{Body: `{"username": "new\u0007bie", "attributes": {"cost_center": "x"}}`}, 400, uInvalid, []string{"username"}},
			{"username with spaces around", uReq{Body: `{"username": " newbie ", "attributes": {"cost_center": "x"}}`}, 400, uInvalid, []string{"username"}},
			{"username of 101 characters", uReq{Body: `{"username": "` + strings.Repeat("n", 101) + `", "attributes": {"cost_center": "x"}}`}, 400, uInvalid, []string{"username"}},
			{"known field in another case", uReq{Body: create(`, "USERNAME": "admin"`)}, 400, uInvalid, []string{"USERNAME"}},
			{"invalid email", uReq{Body: create(`, "emails": [{"value": "not-an-email"}]`)}, 400, uInvalid, []string{"emails.0.value"}},
			{"email with display name", uReq{Body: create(`, "emails": [{"value": "x@example.com"}, {"value": "N <n@example.com>"}]`)}, 400, uInvalid, []string{"emails.1.value"}},
			{"email without dot in domain", uReq{Body: create(`, "emails": [{"value": "n@localhost"}]`)}, 400, uInvalid, []string{"emails.0.value"}},
			{"two primary emails", uReq{Body: create(`, "emails": [{"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}]`)}, 400, uInvalid, []string{"emails"}},
			{"email listed twice", uReq{Body: create(`, "emails": [{"value": "a@example.com", "primary": true}, {"value": "A@EXAMPLE.com"}]`)}, 400, uInvalid, []string{"emails.1.value"}},
			{"invalid phone", uReq{Body: create(`, "phone": "555-0100"`)}, 400, uInvalid, []string{"phone"}},
			{"invalid locale", uReq{Body: create(`, "locale": "not a locale"`)}, 400, uInvalid, []string{"locale"}},
			{"invalid time zone", uReq{Body: create(`, "time_zone": "Mars/Olympus_Mons"`)}, 400, uInvalid, []string{"time_zone"}},
			{"time zone Local", uReq{Body: create(`, "time_zone": "Local"`)}, 400, uInvalid, []string{"time_zone"}},
			{"several invalid fields at once", uReq{Body: create(`, "phone": "1", "locale": "??", "time_zone": "Nowhere"`)}, 400, uInvalid, []string{"phone", "locale", "time_zone"}},
			{"attribute not in schema", uReq{Body: `{"username": "newbie", "attributes": {"cost_center": "x", "shoe_size": 44}}`}, 400, uInvalid, []string{"attributes.shoe_size"}},
			{"attribute of wrong type", uReq{Body: `{"username": "newbie", "attributes": {"cost_center": "x", "level": "high"}}`}, 400, uInvalid, []string{"attributes.level"}},
			{"integer attribute with a fraction", uReq{Body: `{"username": "newbie", "attributes": {"cost_center": "x", "level": 1.5}}`}, 400, uInvalid, []string{"attributes.level"}},
			{"required attribute missing", uReq{Body: `{"username": "newbie"}`}, 400, uInvalid, []string{"attributes.cost_center"}},
			{"bad external id source", uReq{Body: create(`, "external_ids": {"CRM": "1"}`)}, 400, uInvalid, []string{"external_ids.CRM"}},
			{"empty external id", uReq{Body: create(`, "external_ids": {"crm": ""}`)}, 400, uInvalid, []string{"external_ids.crm"}},
			{"password and password_hash", uReq{Body: create(`, "password": "correct horse battery", "password_hash": "{SSHA}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`)}, 400, uInvalid, []string{"password_hash"}},
			{"status not creatable", uReq{Body: create(`, "status": "suspended"`)}, 400, uInvalid, []string{"status"}},
			{"unknown source", uReq{Body: create(`, "source": "carrier-pigeon"`)}, 400, uInvalid, []string{"source"}},
			{"unknown organization", uReq{Body: create(`, "organization_id": "org_00000000000000000000000000"`)}, 400, uInvalid, []string{"organization_id"}},
			{"password against the policy", uReq{Body: create(`, "password": "short"`)}, 400, uInvalid, []string{"password"}},
			{"Idempotency-Key too long", uReq{Body: create(""), Header: []string{"Idempotency-Key", strings.Repeat("k", 256)}}, 400, uInvalid, []string{"Idempotency-Key"}},
			// PATCH.
			{"patch given_name a number", uReq{Method: "PATCH", Path: one, Body: `{"given_name": 5}`}, 400, uInvalid, []string{"given_name"}},
			{"patch unknown field", uReq{Method: "PATCH", Path: one, Body: `{"status": "suspended"}`}, 400, uInvalid, []string{"status"}},
			{"patch username null", uReq{Method: "PATCH", Path: one, Body: `{"username": null}`}, 400, uInvalid, []string{"username"}},
			{"patch username empty", uReq{Method: "PATCH", Path: one, Body: `{"username": ""}`}, 400, uInvalid, []string{"username"}},
			{"patch invalid email", uReq{Method: "PATCH", Path: one, Body: `{"emails": [{"value": "@"}]}`}, 400, uInvalid, []string{"emails.0.value"}},
			{"patch invalid phone", uReq{Method: "PATCH", Path: one, Body: `{"phone": "+0123"}`}, 400, uInvalid, []string{"phone"}},
			{"patch invalid locale", uReq{Method: "PATCH", Path: one, Body: `{"locale": "x-"}`}, 400, uInvalid, []string{"locale"}},
			{"patch invalid time zone", uReq{Method: "PATCH", Path: one, Body: `{"time_zone": "Europe/Atlantis"}`}, 400, uInvalid, []string{"time_zone"}},
			{"patch removes a required attribute", uReq{Method: "PATCH", Path: one, Body: `{"attributes": {"cost_center": null}}`}, 400, uInvalid, []string{"attributes.cost_center"}},
			{"patch attribute not in schema", uReq{Method: "PATCH", Path: one, Body: `{"attributes": {"shoe_size": 44}}`}, 400, uInvalid, []string{"attributes.shoe_size"}},
			{"patch attribute wrong type", uReq{Method: "PATCH", Path: one, Body: `{"attributes": {"level": true}}`}, 400, uInvalid, []string{"attributes.level"}},
			{"patch unknown organization", uReq{Method: "PATCH", Path: one, Body: `{"organization_id": "org_00000000000000000000000000"}`}, 400, uInvalid, []string{"organization_id"}},
			{"patch array", uReq{Method: "PATCH", Path: one, Body: `[]`}, 400, uInvalid, []string{"body"}},
			{"patch wrong Content-Type", uReq{Method: "PATCH", Path: one, Body: `{}`, Header: []string{"Content-Type", "text/json"}}, 415, uUnsupported, nil},
			// Lifecycle.
			{"unknown lifecycle operation", uReq{Method: "POST", Path: one + "/lifecycle/explode"}, 400, uInvalid, []string{"operation"}},
			{"lock is not offered", uReq{Method: "POST", Path: one + "/lifecycle/lock"}, 400, uInvalid, []string{"operation"}},
			{"operation in another case", uReq{Method: "POST", Path: one + "/lifecycle/Suspend"}, 400, uInvalid, []string{"operation"}},
			// Lists.
			{"bad cursor", uReq{Method: "GET", Path: users + "?cursor=not-a-cursor"}, 400, uInvalid, []string{"cursor"}},
			{"cursor of another sort", uReq{Method: "GET", Path: users + "?sort=username&cursor=" + url.QueryEscape(first.NextCursor)}, 400, uInvalid, []string{"cursor"}},
			{"limit 0", uReq{Method: "GET", Path: users + "?limit=0"}, 400, uInvalid, []string{"limit"}},
			{"limit 501", uReq{Method: "GET", Path: users + "?limit=501"}, 400, uInvalid, []string{"limit"}},
			{"limit -1", uReq{Method: "GET", Path: users + "?limit=-1"}, 400, uInvalid, []string{"limit"}},
			{"limit abc", uReq{Method: "GET", Path: users + "?limit=abc"}, 400, uInvalid, []string{"limit"}},
			{"unknown query parameter", uReq{Method: "GET", Path: users + "?stauts=active"}, 400, uInvalid, []string{"stauts"}},
			{"bad updated_since", uReq{Method: "GET", Path: users + "?updated_since=yesterday"}, 400, uInvalid, []string{"updated_since"}},
			{"updated_since without zone", uReq{Method: "GET", Path: users + "?updated_since=2026-01-02T03:04:05"}, 400, uInvalid, []string{"updated_since"}},
			{"order=sideways", uReq{Method: "GET", Path: users + "?order=sideways"}, 400, uInvalid, []string{"order"}},
			{"sort=unknown", uReq{Method: "GET", Path: users + "?sort=unknown"}, 400, uInvalid, []string{"sort"}},
			{"unknown status filter", uReq{Method: "GET", Path: users + "?status=gone"}, 400, uInvalid, []string{"status"}},
			{"unknown parameter of exists", uReq{Method: "GET", Path: users + "/exists?login=x"}, 400, uInvalid, []string{"login"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := c.req
				if r.Method == "" {
					r.Method, r.Path = "POST", users
				}
				p := uRefused(t, e, r, c.status, c.typ, c.fields...)
				if c.status == 400 && len(p.Errors) == 0 {
					t.Errorf("400 without errors[]")
				}
			})
		}
		if got := uGetUser(t, e, existing.ID); !reflect.DeepEqual(got, existing) {
			t.Errorf("user changed by refused requests\n got %+v\nwant %+v", got, existing)
		}
	})
}

func TestUserDuplicates(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		usernames := []struct{ name, first, second string }{
			{"case", "Grace", "gRACE"},
			{"upper and lower", "alan", "ALAN"},
			{"NFC and NFD é", "Jos\u00e9", "Jose\u0301"},
			{"NFD and NFC é", "Ren\u0065\u0301e", "Ren\u00e9e"},
			{"full-width", "hopper", "ｈｏｐｐｅｒ"},
			{"full-width upper case", "Ｌｉｓｋｏｖ", "liskov"},
			{"ligature", "\ufb01nn", "finn"},
			{"sharp s", "strauß", "STRAUSS"},
			{"Kelvin sign", "\u212aay", "kay"},
		}
		for _, c := range usernames {
			t.Run("username "+c.name, func(t *testing.T) {
				u := uNewUser(t, e, c.first)
				if u.Username != c.first {
					t.Errorf("username stored as %q, want %q as given", u.Username, c.first)
				}
				p := uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users", Body: map[string]any{"username": c.second}}, 409, uConflict)
				if !strings.Contains(p.Detail, "username") {
					t.Errorf("detail %q does not say username", p.Detail)
				}
				// The exists check agrees.
				res := uDo(t, e, "GET", "/api/v1/users/exists?username="+url.QueryEscape(c.second), nil)
				uWant(t, res, 200)
				if !res.JSON(t)["exists"].(bool) {
					t.Errorf("exists(%q) is false", c.second)
				}
			})
		}
		t.Run("rename onto another username", func(t *testing.T) {
			other := uNewUser(t, e, "barbara")
			uRefused(t, e, uReq{Method: "PATCH", Path: "/api/v1/users/" + other.ID, Body: `{"username": "ＧＲＡＣＥ"}`}, 409, uConflict)
		})

		t.Run("primary email", func(t *testing.T) {
			uCreateUser(t, e, map[string]any{"username": "lin", "emails": []map[string]any{{"value": "lin@example.com"}}})
			for _, addr := range []string{"lin@example.com", "LIN@EXAMPLE.COM", "Lin@Example.com"} {
				p := uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users",
					Body: map[string]any{"username": "lin2", "emails": []map[string]any{{"value": addr}}}}, 409, uConflict)
				if !strings.Contains(p.Detail, "email") {
					t.Errorf("detail %q does not say email", p.Detail)
				}
			}
			// Without a username the email becomes it: still refused.
			uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users",
				Body: map[string]any{"emails": []map[string]any{{"value": "lin@EXAMPLE.com"}}}}, 409, uConflict)
			other := uCreateUser(t, e, map[string]any{"username": "lin3", "emails": []map[string]any{{"value": "lin3@example.com"}}})
			uRefused(t, e, uReq{Method: "PATCH", Path: "/api/v1/users/" + other.ID,
				Body: map[string]any{"emails": []map[string]any{{"value": "lin@example.com"}}}}, 409, uConflict)
		})

		t.Run("external id per source", func(t *testing.T) {
			uCreateUser(t, e, map[string]any{"username": "ext1", "external_ids": map[string]string{"crm": "C-7"}})
			p := uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users",
				Body: map[string]any{"username": "ext2", "external_ids": map[string]string{"crm": "C-7"}}}, 409, uConflict)
			if !strings.Contains(p.Detail, "external id") {
				t.Errorf("detail %q does not say external id", p.Detail)
			}
			// The same id under another source is another identity.
			other := uCreateUser(t, e, map[string]any{"username": "ext2", "external_ids": map[string]string{"erp": "C-7"}})
			uRefused(t, e, uReq{Method: "PATCH", Path: "/api/v1/users/" + other.ID,
				Body: `{"external_ids": {"crm": "C-7"}}`}, 409, uConflict)
			if got := uGetUser(t, e, other.ID); !reflect.DeepEqual(got.ExternalIDs, map[string]string{"erp": "C-7"}) {
				t.Errorf("external ids %v", got.ExternalIDs)
			}
		})
	})
}

// uTransitions are the lifecycle operations offered over the API with the
// states they may start from and the state they lead to.
var uTransitions = map[string]struct {
	from []string
	to   string
}{
	"activate":   {[]string{"staged"}, "active"},
	"suspend":    {[]string{"active"}, "suspended"},
	"unsuspend":  {[]string{"suspended"}, "active"},
	"deactivate": {[]string{"staged", "active", "suspended"}, "deactivated"},
	"reactivate": {[]string{"deactivated"}, "active"},
}

var uStatuses = []string{"staged", "active", "suspended", "deactivated"}

func TestUserLifecycle(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		ops := slices.Sorted(maps.Keys(uTransitions))
		n := 0
		for _, op := range ops {
			tr := uTransitions[op]
			for _, from := range uStatuses {
				legal := slices.Contains(tr.from, from)
				n++
				name := fmt.Sprintf("%s from %s", op, from)
				t.Run(name, func(t *testing.T) {
					u := uUserIn(t, e, fmt.Sprintf("life%d", n), from)
					path := "/api/v1/users/" + u.ID + "/lifecycle/" + op
					if !legal {
						p := uRefused(t, e, uReq{Method: "POST", Path: path}, 409, uConflict)
						if !strings.Contains(p.Detail, from) {
							t.Errorf("detail %q does not name the state %s", p.Detail, from)
						}
						return
					}
					res := uDo(t, e, "POST", path, nil, "If-Match", fmt.Sprintf(`"%d"`, u.Version))
					uWant(t, res, 200)
					got := uDecodeUser(t, res)
					uETag(t, res, u.Version+1)
					if got.Status != tr.to || got.Version != u.Version+1 {
						t.Errorf("status %s version %d, want %s %d", got.Status, got.Version, tr.to, u.Version+1)
					}
					if uTimeKey(t, *got.StatusChangedAt) <= uTimeKey(t, *u.StatusChangedAt) || uTimeKey(t, *got.UpdatedAt) <= uTimeKey(t, *u.UpdatedAt) {
						t.Errorf("status_changed_at/updated_at not advanced: %v %v", *got.StatusChangedAt, *got.UpdatedAt)
					}
					if read := uGetUser(t, e, u.ID); !reflect.DeepEqual(read, got) {
						t.Errorf("GET after %s\n got %+v\nwant %+v", op, read, got)
					}
				})
			}
		}

		t.Run("full cycle", func(t *testing.T) {
			u := uUserIn(t, e, "cycler", "staged")
			v := u.Version
			for _, step := range []struct{ op, status string }{
				{"activate", "active"}, {"suspend", "suspended"}, {"unsuspend", "active"}, {"suspend", "suspended"},
				{"deactivate", "deactivated"}, {"reactivate", "active"}, {"deactivate", "deactivated"},
			} {
				got := uOp(t, e, u.ID, step.op)
				v++
				if got.Status != step.status || got.Version != v {
					t.Fatalf("%s: status %s version %d, want %s %d", step.op, got.Status, got.Version, step.status, v)
				}
			}
		})

		t.Run("unlock", func(t *testing.T) {
			u := uNewUser(t, e, "locky")
			uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users/" + u.ID + "/lifecycle/unlock"}, 409, uConflict)
			uLock(t, e, u.ID)
			locked := uGetUser(t, e, u.ID)
			if !locked.Locked || locked.Version != u.Version+1 {
				t.Fatalf("after lock: locked %v version %d", locked.Locked, locked.Version)
			}
			got := uOp(t, e, u.ID, "unlock")
			if got.Locked || got.Version != locked.Version+1 || got.Status != "active" {
				t.Errorf("after unlock: locked %v version %d status %s", got.Locked, got.Version, got.Status)
			}
			if *got.StatusChangedAt != *locked.StatusChangedAt {
				t.Errorf("unlock changed status_changed_at")
			}
			uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users/" + u.ID + "/lifecycle/unlock"}, 409, uConflict)
		})

		t.Run("If-Match", func(t *testing.T) {
			u := uNewUser(t, e, "guarded")
			path := "/api/v1/users/" + u.ID + "/lifecycle/suspend"
			uRefused(t, e, uReq{Method: "POST", Path: path, Header: []string{"If-Match", `"2"`}}, 412, uPrecondition)
			uRefused(t, e, uReq{Method: "POST", Path: path, Header: []string{"If-Match", `two`}}, 400, uInvalid, "If-Match")
			res := uDo(t, e, "POST", path, nil, "If-Match", `"1"`)
			uWant(t, res, 200)
			uETag(t, res, 2)
		})

		t.Run("unknown user", func(t *testing.T) {
			uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users/usr_00000000000000000000000000/lifecycle/suspend"}, 404, uNotFound)
		})
	})
}

func TestUserIfMatch(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		u := uNewUser(t, e, "etagged")
		path := "/api/v1/users/" + u.ID
		u = uPatchUser(t, e, u.ID, `{"given_name": "One"}`, "")
		if u.Version != 2 {
			t.Fatalf("version %d", u.Version)
		}
		uRefused(t, e, uReq{Method: "PATCH", Path: path, Body: `{"given_name": "Stale"}`, Header: []string{"If-Match", `"1"`}}, 412, uPrecondition)
		uRefused(t, e, uReq{Method: "PATCH", Path: path, Body: `{"given_name": "Future"}`, Header: []string{"If-Match", `"3"`}}, 412, uPrecondition)

		u = uPatchUser(t, e, u.ID, `{"given_name": "Two"}`, `"2"`)
		if u.Version != 3 || u.GivenName != "Two" {
			t.Fatalf("after PATCH with the current ETag: %+v", u)
		}
		for _, bad := range []string{`abc`, `"abc"`, `3`, `"0"`, `"-3"`, `""`, `"3`, `"3", "4"`} {
			t.Run("malformed "+bad, func(t *testing.T) {
				uRefused(t, e, uReq{Method: "PATCH", Path: path, Body: `{"given_name": "Bad"}`, Header: []string{"If-Match", bad}}, 400, uInvalid, "If-Match")
			})
		}
		u = uPatchUser(t, e, u.ID, `{"given_name": "Three"}`, `*`)
		if u.Version != 4 || u.GivenName != "Three" {
			t.Fatalf("after PATCH with If-Match *: %+v", u)
		}
		if got := uGetUser(t, e, u.ID); !reflect.DeepEqual(got, u) {
			t.Errorf("GET %+v, want %+v", got, u)
		}
		uRefused(t, e, uReq{Method: "PATCH", Path: "/api/v1/users/usr_00000000000000000000000000", Body: `{}`, Header: []string{"If-Match", `"1"`}}, 404, uNotFound)
	})
}

func TestUserIdempotency(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		body := `{"username": "idem", "given_name": "Idem"}`
		first := uDo(t, e, "POST", "/api/v1/users", body, "Idempotency-Key", "key-1")
		uWant(t, first, 201)
		if first.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("first answer marked as replayed")
		}
		created := uDecodeUser(t, first)

		t.Run("replay", func(t *testing.T) {
			for range 2 {
				var again testkit.Response
				e.Unchanged(t, func() { again = uDo(t, e, "POST", "/api/v1/users", body, "Idempotency-Key", "key-1") })
				if again.Status != 201 || string(again.Body) != string(first.Body) {
					t.Errorf("replay %d %s, want 201 %s", again.Status, again.Body, first.Body)
				}
				for _, h := range []string{"Location", "ETag", "Content-Type"} {
					if again.Header.Get(h) != first.Header.Get(h) || first.Header.Get(h) == "" {
						t.Errorf("%s %q, first was %q", h, again.Header.Get(h), first.Header.Get(h))
					}
				}
				if got := again.Header.Get("Idempotent-Replayed"); got != "true" {
					t.Errorf("Idempotent-Replayed %q", got)
				}
			}
			if ids := uListIDs(t, e, "username_prefix=idem"); !slices.Equal(ids, []string{created.ID}) {
				t.Errorf("users %q, want only %s", ids, created.ID)
			}
		})

		t.Run("same key, another body", func(t *testing.T) {
			p := uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users", Body: `{"username": "idem-other"}`,
				Header: []string{"Idempotency-Key", "key-1"}}, 422, "idempotency-key-reused")
			if p.Detail == "" {
				t.Errorf("no detail")
			}
			// Even a whitespace difference is another request.
			uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users", Body: body + " ",
				Header: []string{"Idempotency-Key", "key-1"}}, 422, "idempotency-key-reused")
		})

		t.Run("another token's key is independent", func(t *testing.T) {
			tok := uCreateToken(t, e, "second", "user-manager")
			res := e.Do(t, "POST", "/api/v1/users", tok, `{"username": "idem-two"}`, "Idempotency-Key", "key-1")
			uWant(t, res, 201)
			if res.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("answer of another token replayed")
			}
			two := uDecodeUser(t, res)
			if two.ID == created.ID {
				t.Fatal("same user")
			}
			// Each token replays its own answer.
			var again testkit.Response
			e.Unchanged(t, func() {
				again = e.Do(t, "POST", "/api/v1/users", tok, `{"username": "idem-two"}`, "Idempotency-Key", "key-1")
			})
			if again.Status != 201 || string(again.Body) != string(res.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("replay for the second token: %d %s", again.Status, again.Body)
			}
			// And the same body from the second token, with the admin's
			// key, is executed: the username is taken now.
			res = e.Do(t, "POST", "/api/v1/users", tok, body, "Idempotency-Key", "key-2")
			uCheckProblem(t, "/api/v1/users", res, 409, uConflict)
		})

		t.Run("a refused request replays its refusal", func(t *testing.T) {
			bad := `{"username": "idem-bad", "phone": "nope"}`
			res := uDo(t, e, "POST", "/api/v1/users", bad, "Idempotency-Key", "key-bad")
			uCheckProblem(t, "/api/v1/users", res, 400, uInvalid, "phone")
			var again testkit.Response
			e.Unchanged(t, func() { again = uDo(t, e, "POST", "/api/v1/users", bad, "Idempotency-Key", "key-bad") })
			if again.Status != 400 || string(again.Body) != string(res.Body) {
				t.Errorf("replay %d %s, want 400 %s", again.Status, again.Body, res.Body)
			}
			if again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("replay headers %v", again.Header)
			}
			// Fixing the body needs a new key.
			uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users", Body: `{"username": "idem-bad"}`,
				Header: []string{"Idempotency-Key", "key-bad"}}, 422, "idempotency-key-reused")
			res = uDo(t, e, "GET", "/api/v1/users/exists?username=idem-bad", nil)
			if uWant(t, res, 200); res.JSON(t)["exists"] != false {
				t.Errorf("the refused user exists: %s", res.Body)
			}
		})

		t.Run("a conflict replays the conflict", func(t *testing.T) {
			dup := `{"username": "IDEM"}`
			res := uDo(t, e, "POST", "/api/v1/users", dup, "Idempotency-Key", "key-dup")
			uCheckProblem(t, "/api/v1/users", res, 409, uConflict)
			var again testkit.Response
			e.Unchanged(t, func() { again = uDo(t, e, "POST", "/api/v1/users", dup, "Idempotency-Key", "key-dup") })
			if again.Status != 409 || string(again.Body) != string(res.Body) {
				t.Errorf("replay %d %s", again.Status, again.Body)
			}
		})
	})
}

func TestUserPassword(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		u := uCreateUser(t, e, map[string]any{"username": "margaret",
			"emails": []map[string]any{{"value": "m.hamilton@example.com"}}})
		path := "/api/v1/users/" + u.ID + "/password"

		violations := []struct {
			name, password string
			messages       []string // substrings of errors[].detail, in order
		}{
			{"too short", "short", []string{"at least 12"}},
			{"too long", strings.Repeat("long enough ", 11), []string{"at most 128"}},
			{"contains the username", "Margaret-in-Apollo-1969", []string{"username"}},
			{"contains the email local part", "go hamilton go 1969", []string{"username or email"}},
			{"short and with the username", "margaret", []string{"at least 12", "username"}},
		}
		for _, v := range violations {
			t.Run(v.name, func(t *testing.T) {
				p := uRefused(t, e, uReq{Method: "PUT", Path: path, Body: map[string]string{"password": v.password}}, 400, uInvalid, "password")
				if len(p.Errors) != len(v.messages) {
					t.Fatalf("errors %+v, want %d", p.Errors, len(v.messages))
				}
				for i, m := range v.messages {
					if p.Errors[i].Field != "password" || !strings.Contains(p.Errors[i].Detail, m) {
						t.Errorf("errors[%d] = %+v, want field password and %q", i, p.Errors[i], m)
					}
				}
			})
		}
		uRefused(t, e, uReq{Method: "PUT", Path: path, Body: `{"password": 12345678901234}`}, 400, uInvalid, "password")
		uRefused(t, e, uReq{Method: "PUT", Path: path, Body: `{"passwd": "long enough password"}`}, 400, uInvalid, "passwd")
		uRefused(t, e, uReq{Method: "PUT", Path: "/api/v1/users/usr_00000000000000000000000000/password",
			Body: `{"password": "long enough password"}`}, 404, uNotFound)

		res := uPut(t, e, path, map[string]string{"password": "apollo guidance computer"})
		var pc struct {
			PasswordChangedAt *string `json:"password_changed_at"`
		}
		res.Decode(t, &pc)
		if pc.PasswordChangedAt == nil {
			t.Fatal("password_changed_at missing")
		}
		if got := uGetUser(t, e, u.ID); got.PasswordChangedAt == nil || *got.PasswordChangedAt != *pc.PasswordChangedAt {
			t.Errorf("user password_changed_at %v, want %s", got.PasswordChangedAt, *pc.PasswordChangedAt)
		}
		tid := uTenantID(t, e)
		if _, err := e.Server.Users.CheckPassword(context.Background(), tid, "M.Hamilton@example.com", "apollo guidance computer"); err != nil {
			t.Errorf("sign in by email: %v", err)
		}

		t.Run("history", func(t *testing.T) {
			policy := map[string]any{"min_length": 12, "max_length": 128, "history_count": 2, "disallow_user_info": true}
			uPut(t, e, "/api/v1/tenant/password-policy", policy)
			p1, p2, p3 := "apollo guidance computer", "lunar module descent", "command module pilot"
			uPut(t, e, path, map[string]string{"password": p2})
			for _, reused := range []string{p1, p2} {
				p := uRefused(t, e, uReq{Method: "PUT", Path: path, Body: map[string]string{"password": reused}}, 400, uInvalid, "password")
				if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Detail, "last 2 passwords") {
					t.Errorf("reuse of %q: %+v", reused, p.Errors)
				}
			}
			uPut(t, e, path, map[string]string{"password": p3})
			// p1 is now the third last: allowed again; p2 still refused.
			uRefused(t, e, uReq{Method: "PUT", Path: path, Body: map[string]string{"password": p2}}, 400, uInvalid, "password")
			uPut(t, e, path, map[string]string{"password": p1})
			if _, err := e.Server.Users.CheckPassword(context.Background(), tid, "margaret", p1); err != nil {
				t.Errorf("sign in: %v", err)
			}
			if _, err := e.Server.Users.CheckPassword(context.Background(), tid, "margaret", p3); !errors.Is(err, user.ErrBadCredentials) {
				t.Errorf("old password: %v", err)
			}
		})
	})
}

func TestPasswordPolicy(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		const path = "/api/v1/tenant/password-policy"
		res := uDo(t, e, "GET", path, nil)
		uWant(t, res, 200)
		def := res.JSON(t)
		wantDef := map[string]any{"min_length": 12.0, "max_length": 128.0, "require_lowercase": false, "require_uppercase": false,
			"require_digit": false, "require_symbol": false, "history_count": 0.0, "max_age_days": 0.0,
			"check_breached": true, "disallow_user_info": true}
		if !reflect.DeepEqual(def, wantDef) {
			t.Errorf("default policy %v, want %v", def, wantDef)
		}

		valid := func(change string) string {
			return `{"min_length": 12, "max_length": 128, "history_count": 0, "max_age_days": 0` + change + `}`
		}
		invalid := []struct {
			name, body string
			fields     []string
		}{
			{"min_length below 8", valid(`, "min_length": 4`), []string{"min_length"}},
			{"min_length above max_length", valid(`, "min_length": 100, "max_length": 64`), []string{"min_length"}},
			{"max_length below 64", valid(`, "max_length": 32`), []string{"max_length"}},
			{"max_length above 1024", valid(`, "max_length": 5000`), []string{"max_length"}},
			{"history_count above 24", valid(`, "history_count": 25`), []string{"history_count"}},
			{"history_count negative", valid(`, "history_count": -1`), []string{"history_count"}},
			{"max_age_days negative", valid(`, "max_age_days": -1`), []string{"max_age_days"}},
			{"max_age_days above 3650", valid(`, "max_age_days": 4000`), []string{"max_age_days"}},
			{"everything wrong", `{"min_length": 1, "max_length": 1, "history_count": 99, "max_age_days": -5}`,
				[]string{"min_length", "max_length", "history_count", "max_age_days"}},
			{"unknown field", valid(`, "min_digits": 2`), []string{"min_digits"}},
			{"wrong type", valid(`, "require_digit": "yes"`), []string{"require_digit"}},
		}
		for _, c := range invalid {
			t.Run(c.name, func(t *testing.T) {
				uRefused(t, e, uReq{Method: "PUT", Path: path, Body: c.body}, 400, uInvalid, c.fields...)
			})
		}
		// Only admins change the policy.
		mgr := uCreateToken(t, e, "manager", "user-manager")
		uRefused(t, e, uReq{Method: "PUT", Path: path, Body: valid(""), Token: mgr}, 403, "forbidden")

		custom := map[string]any{"min_length": 10, "max_length": 64, "require_lowercase": true, "require_uppercase": true,
			"require_digit": true, "require_symbol": true, "history_count": 3, "max_age_days": 90,
			"check_breached": false, "disallow_user_info": false}
		res = uPut(t, e, path, custom)
		if got := res.JSON(t); fmt.Sprint(got) != fmt.Sprint(custom) {
			t.Errorf("PUT answered %v, want %v", got, custom)
		}
		res = uDo(t, e, "GET", path, nil)
		uWant(t, res, 200)
		if got := res.JSON(t); fmt.Sprint(got) != fmt.Sprint(custom) {
			t.Errorf("GET %v, want %v", got, custom)
		}

		// Validation reads the policy and, with a user id, the user.
		uPut(t, e, path, map[string]any{"min_length": 12, "max_length": 128, "disallow_user_info": true, "history_count": 1})
		u := uNewUser(t, e, "katherine")
		uPut(t, e, "/api/v1/users/"+u.ID+"/password", map[string]string{"password": "orbital mechanics 1962"})
		validate := []struct {
			name, password, userID string
			codes                  []string
		}{
			{"fine", "orbital mechanics 1963", "", []string{}},
			{"too short", "short", "", []string{"too_short"}},
			{"user info is not checked without a user", "katherine johnson 1918", "", []string{}},
			{"user info with the user", "katherine johnson 1918", u.ID, []string{"contains_user_info"}},
			// Validation never compares with the user's passwords: that would
			// be a silent guessing oracle (the current one is "reused").
			{"the current password is not revealed", "orbital mechanics 1962", u.ID, []string{}},
			{"history not checked without a user", "orbital mechanics 1962", "", []string{}},
			{"several", "katherine", u.ID, []string{"too_short", "contains_user_info"}},
			{"fine with the user", "friendship seven flight", u.ID, []string{}},
		}
		for _, c := range validate {
			t.Run("validate "+c.name, func(t *testing.T) {
				body := map[string]string{"password": c.password}
				if c.userID != "" {
					body["user_id"] = c.userID
				}
				var res testkit.Response
				e.Unchanged(t, func() { res = uDo(t, e, "POST", path+"/validate", body) })
				uWant(t, res, 200)
				var v struct {
					Valid      bool `json:"valid"`
					Violations []struct {
						Code    string `json:"code"`
						Message string `json:"message"`
					} `json:"violations"`
				}
				res.Decode(t, &v)
				codes := []string{}
				for _, x := range v.Violations {
					codes = append(codes, x.Code)
					if x.Message == "" {
						t.Errorf("violation %s without message", x.Code)
					}
				}
				if !slices.Equal(codes, c.codes) || v.Valid != (len(c.codes) == 0) || v.Violations == nil {
					t.Errorf("valid %v violations %q, want %q (%s)", v.Valid, codes, c.codes, res.Body)
				}
			})
		}
		uRefused(t, e, uReq{Method: "POST", Path: path + "/validate",
			Body: map[string]string{"password": "whatever it is", "user_id": "usr_00000000000000000000000000"}}, 404, uNotFound)
		uRefused(t, e, uReq{Method: "POST", Path: path + "/validate", Body: `{"password": "x", "user": "y"}`}, 400, uInvalid, "user")
		// Any role may validate.
		ro := uCreateToken(t, e, "reader", "read-only")
		var rres testkit.Response
		e.Unchanged(t, func() {
			rres = e.Do(t, "POST", path+"/validate", ro, map[string]string{"password": "orbital mechanics 1963"})
		})
		uWant(t, rres, 200)
	})
}

// uSSHA makes an OpenLDAP {SSHA} hash: base64(sha1(password || salt) || salt).
func uSSHA(plain string) string {
	salt := make([]byte, 8)
	rand.Read(salt)
	d := sha1.Sum(append([]byte(plain), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(d[:], salt...))
}

func TestUserPasswordHashImport(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		ctx := context.Background()
		tid := uTenantID(t, e)
		bc, err := bcrypt.GenerateFromPassword([]byte("bcrypt imported secret"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		imports := []struct {
			name, username, hash, plain, prefix string
		}{
			{"bcrypt", "importer-bcrypt", string(bc), "bcrypt imported secret", "$2a$"},
			{"ssha", "importer-ssha", uSSHA("salted sha secret"), "salted sha secret", "{SSHA}"},
		}
		for _, c := range imports {
			t.Run(c.name, func(t *testing.T) {
				u := uNewUser(t, e, c.username)
				res := uPut(t, e, "/api/v1/users/"+u.ID+"/password-hash", map[string]string{"hash": c.hash})
				if res.JSON(t)["password_changed_at"] == nil {
					t.Errorf("password_changed_at missing: %s", res.Body)
				}
				if got := uStoredHash(t, e, tid, u.ID); got != c.hash {
					t.Fatalf("stored %q, want the imported hash", got)
				}
				// A wrong password neither signs in nor upgrades the hash.
				if _, err := e.Server.Users.CheckPassword(ctx, tid, c.username, c.plain+"!"); !errors.Is(err, user.ErrBadCredentials) {
					t.Errorf("wrong password: %v", err)
				}
				if got := uStoredHash(t, e, tid, u.ID); !strings.HasPrefix(got, c.prefix) {
					t.Errorf("hash changed by a failed check: %q", got)
				}
				got, err := e.Server.Users.CheckPassword(ctx, tid, strings.ToUpper(c.username), c.plain)
				if err != nil || got.ID != user.ID(u.ID) {
					t.Fatalf("imported hash does not verify: %v", err)
				}
				upgraded := uStoredHash(t, e, tid, u.ID)
				if !strings.HasPrefix(upgraded, "$argon2id$") {
					t.Errorf("hash not upgraded to argon2id: %q", upgraded)
				}
				if _, err := e.Server.Users.CheckPassword(ctx, tid, c.username, c.plain); err != nil {
					t.Errorf("upgraded hash does not verify: %v", err)
				}
				if uStoredHash(t, e, tid, u.ID) != upgraded {
					t.Errorf("argon2id hash re-hashed again")
				}
			})
		}

		t.Run("at creation", func(t *testing.T) {
			u := uCreateUser(t, e, map[string]any{"username": "born-imported", "password_hash": string(bc)})
			if u.PasswordChangedAt == nil {
				t.Errorf("password_changed_at missing")
			}
			if _, err := e.Server.Users.CheckPassword(ctx, tid, "born-imported", "bcrypt imported secret"); err != nil {
				t.Errorf("sign in: %v", err)
			}
			if !strings.HasPrefix(uStoredHash(t, e, tid, u.ID), "$argon2id$") {
				t.Errorf("not upgraded")
			}
		})

		u := uNewUser(t, e, "importer-bad")
		path := "/api/v1/users/" + u.ID + "/password-hash"
		bad := []struct{ name, hash string }{
			{"garbage", "hunter2"},
			{"empty", ""},
			{"bcrypt cut short", string(bc[:40])},
			{"bcrypt cost too high", "$2b$31$" + string(bc[7:])},
			{"$2x$ variant", "$2x$" + string(bc[4:])},
			{"ssha not base64", "{SSHA}!!!!"},
			{"ssha without salt", "{SSHA}" + base64.StdEncoding.EncodeToString(make([]byte, 20))},
			{"unknown scheme", "{MD5}X03MO1qnZdYdgyfeuILPmQ=="},
			{"too long", "$argon2id$" + strings.Repeat("a", 600)},
		}
		for _, c := range bad {
			t.Run("refused "+c.name, func(t *testing.T) {
				uRefused(t, e, uReq{Method: "PUT", Path: path, Body: map[string]string{"hash": c.hash}}, 400, uInvalid, "hash")
			})
		}
		uRefused(t, e, uReq{Method: "POST", Path: "/api/v1/users", Body: map[string]string{"username": "importer-bad2", "password_hash": "hunter2"}}, 400, uInvalid, "password_hash")
		uRefused(t, e, uReq{Method: "PUT", Path: "/api/v1/users/usr_00000000000000000000000000/password-hash",
			Body: map[string]string{"hash": string(bc)}}, 404, uNotFound)
		if got := uGetUser(t, e, u.ID); got.PasswordChangedAt != nil {
			t.Errorf("refused imports set a password")
		}
	})
}

func TestUserExists(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		uCreateUser(t, e, map[string]any{"username": "dorothy", "emails": []map[string]any{
			{"value": "dorothy@example.com", "primary": true}, {"value": "dv@example.org"}}})
		cases := []struct {
			query string
			want  bool
		}{
			{"username=dorothy", true},
			{"username=DOROTHY", true},
			{"username=" + url.QueryEscape("ｄｏｒｏｔｈｙ"), true},
			{"username=dorothy+", true}, // compared after trimming
			{"username=doroth", false},
			{"username=nobody", false},
			{"email=dorothy@example.com", true},
			{"email=Dorothy@EXAMPLE.com", true},
			{"email=dv@example.org", false}, // only the primary address signs in
			{"email=nobody@example.com", false},
		}
		for _, c := range cases {
			t.Run(c.query, func(t *testing.T) {
				var res testkit.Response
				e.Unchanged(t, func() { res = uDo(t, e, "GET", "/api/v1/users/exists?"+c.query, nil) })
				uWant(t, res, 200)
				if got := res.JSON(t); !reflect.DeepEqual(got, map[string]any{"exists": c.want}) {
					t.Errorf("%s", res.Body)
				}
			})
		}
		uRefused(t, e, uReq{Method: "GET", Path: "/api/v1/users/exists?username=dorothy&email=dorothy@example.com"}, 400, uInvalid, "email")
		uRefused(t, e, uReq{Method: "GET", Path: "/api/v1/users/exists"}, 400, uInvalid, "username")
		uRefused(t, e, uReq{Method: "GET", Path: "/api/v1/users/exists?username=%20"}, 400, uInvalid, "username")
	})
}

func TestUserListFilters(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		orgA, orgB := uCreateOrg(t, e, "Org A"), uCreateOrg(t, e, "Org B")
		mk := func(username, status, org, email string) string {
			body := map[string]any{"username": username}
			if org != "" {
				body["organization_id"] = org
			}
			if email != "" {
				body["emails"] = []map[string]any{{"value": email}}
			}
			u := uCreateUser(t, e, body)
			switch status {
			case "suspended", "deactivated":
				uOp(t, e, u.ID, map[string]string{"suspended": "suspend", "deactivated": "deactivate"}[status])
			}
			return u.ID
		}
		staged := uCreateUser(t, e, map[string]any{"username": "fl-staged", "status": "staged", "organization_id": orgB}).ID
		alpha := mk("fl-alpha", "active", orgA, "alpha@example.com")
		alpine := mk("fl-Alpine", "active", orgA, "")
		beta := mk("fl-beta", "suspended", "", "beta@example.com")
		gamma := mk("fl-gamma", "deactivated", orgB, "")
		other := mk("other", "active", "", "Alpha@example.net")
		all := []string{staged, alpha, alpine, beta, gamma, other}
		grp := uCreateGroup(t, e, "filtered", alpha, beta)
		uCreateGroup(t, e, "decoy", gamma)

		// Something to find with updated_since: a change after everything
		// else. Times are microseconds on both databases.
		time.Sleep(2 * time.Millisecond)
		changed := uPatchUser(t, e, gamma, `{"given_name": "Gamma"}`, "")
		since := *changed.UpdatedAt
		before, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			t.Fatal(err)
		}

		cases := []struct {
			name, query string
			want        []string
		}{
			{"none", "", all},
			{"status staged", "status=staged", []string{staged}},
			{"status active", "status=active", []string{alpha, alpine, other}},
			{"status suspended", "status=suspended", []string{beta}},
			{"status deactivated", "status=deactivated", []string{gamma}},
			{"organization A", "organization_id=" + orgA, []string{alpha, alpine}},
			{"organization B", "organization_id=" + orgB, []string{staged, gamma}},
			{"unknown organization", "organization_id=org_00000000000000000000000000", []string{}},
			{"group", "group_id=" + grp, []string{alpha, beta}},
			{"unknown group", "group_id=grp_00000000000000000000000000", []string{}},
			{"email", "email=alpha@example.com", []string{alpha}},
			{"email in another case", "email=ALPHA@Example.COM", []string{alpha}},
			{"email of nobody", "email=gamma@example.com", []string{}},
			{"username prefix", "username_prefix=fl-al", []string{alpha, alpine}},
			{"username prefix folds case", "username_prefix=FL-AL", []string{alpha, alpine}},
			{"username prefix full-width", "username_prefix=" + url.QueryEscape("ｆｌ－"), []string{staged, alpha, alpine, beta, gamma}},
			{"username prefix matching nothing", "username_prefix=zz", []string{}},
			{"username prefix is not a LIKE pattern", "username_prefix=" + url.QueryEscape("fl_"), []string{}},
			{"username prefix % matches nothing", "username_prefix=" + url.QueryEscape("%"), []string{}},
			{"updated since the last change", "updated_since=" + url.QueryEscape(since), []string{gamma}},
			{"updated since just after it", "updated_since=" + url.QueryEscape(before.Add(time.Microsecond).Format(time.RFC3339Nano)), []string{}},
			{"updated since long ago", "updated_since=2000-01-01T00:00:00Z", all},
			{"updated since in another zone", "updated_since=" + url.QueryEscape(before.In(time.FixedZone("x", -5*3600)).Format(time.RFC3339Nano)), []string{gamma}},
			{"combined", "status=active&organization_id=" + orgA + "&username_prefix=fl-alpi", []string{alpine}},
			{"group and status", "group_id=" + grp + "&status=suspended", []string{beta}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				uSameSet(t, c.query, uListIDs(t, e, c.query), c.want)
			})
		}
		// The group's member list agrees.
		l, _ := uList(t, e, "/api/v1/groups/"+grp+"/members")
		uSameSet(t, "members", uIDs(l.Items), []string{alpha, beta})
	})
}

func TestUserListPaging(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		names := []string{"pg-delta", "PG-alpha", "pg-echo", "pg-Charlie", "pg-bravo", "pg-ｆｏｘｔｒｏｔ", "pg-golf"}
		byID := map[string]uUser{}
		for i, n := range names {
			u := uNewUser(t, e, n)
			if i%2 == 0 { // updated order differs from created order
				u = uPatchUser(t, e, u.ID, map[string]string{"given_name": n}, "")
			}
			byID[u.ID] = u
		}
		key := map[string]func(u uUser) string{
			"created":  func(u uUser) string { return "" },
			"username": func(u uUser) string { return user.Key(u.Username) },
			"updated":  func(u uUser) string { return uTimeKey(t, *u.UpdatedAt) },
		}
		for _, sortBy := range []string{"", "created", "username", "updated"} {
			for _, order := range []string{"", "asc", "desc"} {
				q := url.Values{}
				if sortBy != "" {
					q.Set("sort", sortBy)
				}
				if order != "" {
					q.Set("order", order)
				}
				t.Run(fmt.Sprintf("sort=%s order=%s", sortBy, order), func(t *testing.T) {
					full, _ := uList(t, e, "/api/v1/users?"+q.Encode())
					if len(full.Items) != len(names) || full.NextCursor != "" {
						t.Fatalf("%d users, next %q", len(full.Items), full.NextCursor)
					}
					if ids := slices.Compact(slices.Sorted(slices.Values(uIDs(full.Items)))); len(ids) != len(names) {
						t.Fatalf("duplicate ids in %q", uIDs(full.Items))
					}
					// The order is the sort key, then the id, in the order asked.
					k := key[cmp.Or(sortBy, "created")]
					sorted := slices.Clone(full.Items)
					slices.SortFunc(sorted, func(a, b uUser) int {
						c := strings.Compare(k(a), k(b))
						if c == 0 {
							c = strings.Compare(a.ID, b.ID)
						}
						if order == "desc" {
							c = -c
						}
						return c
					})
					if !slices.Equal(uIDs(full.Items), uIDs(sorted)) {
						t.Errorf("order %q, want %q", uIDs(full.Items), uIDs(sorted))
					}
					// Walking pages of 2 gives the same sequence, without
					// duplicates, and rel="next" on every page but the last.
					q.Set("limit", "2")
					pages := uWalk(t, e, "/api/v1/users?"+q.Encode())
					if len(pages) != 4 {
						t.Errorf("%d pages, want 4", len(pages))
					}
					var walked []string
					for i, p := range pages {
						if i < len(pages)-1 && len(p) != 2 {
							t.Errorf("page %d has %d items", i, len(p))
						}
						walked = append(walked, uIDs(p)...)
					}
					if !slices.Equal(walked, uIDs(full.Items)) {
						t.Errorf("walked %q, want %q", walked, uIDs(full.Items))
					}
				})
			}
		}
		t.Run("exact page", func(t *testing.T) {
			pages := uWalk(t, e, "/api/v1/users?limit=7")
			if len(pages) != 1 || len(pages[0]) != 7 {
				t.Errorf("limit equal to the total: %d pages", len(pages))
			}
			pages = uWalk(t, e, "/api/v1/users?limit=500")
			if len(pages) != 1 {
				t.Errorf("limit 500: %d pages", len(pages))
			}
		})
		t.Run("filtered walk", func(t *testing.T) {
			pages := uWalk(t, e, "/api/v1/users?limit=1&sort=username&username_prefix=pg-")
			var walked []string
			for _, p := range pages {
				walked = append(walked, uIDs(p)...)
			}
			if len(walked) != len(names) || len(pages) != len(names) {
				t.Errorf("walked %d users on %d pages", len(walked), len(pages))
			}
		})
		t.Run("rows added while walking", func(t *testing.T) {
			l, _ := uList(t, e, "/api/v1/users?limit=3&sort=username")
			uNewUser(t, e, "pg-0-first") // sorts before the cursor
			uNewUser(t, e, "pg-zulu")    // sorts after it
			seen := uIDs(l.Items)
			for _, p := range uWalk(t, e, "/api/v1/users?limit=3&sort=username&cursor="+url.QueryEscape(l.NextCursor)) {
				for _, u := range p {
					if slices.Contains(seen, u.ID) {
						t.Errorf("%s seen twice", u.Username)
					}
					seen = append(seen, u.ID)
				}
			}
			if len(seen) != len(names)+1 {
				t.Errorf("saw %d users, want %d (all but the one inserted before the cursor)", len(seen), len(names)+1)
			}
		})
	})
}

// uTimeKey renders an API time so that text order is time order.
func uTimeKey(t testing.TB, s string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC().Format("2006-01-02T15:04:05.000000")
}

func TestUserConcurrentPatch(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		u := uNewUser(t, e, "contended")
		const n = 16
		var wg sync.WaitGroup
		results := make([]uRawResult, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				read := uRaw(e, "GET", "/api/v1/users/"+u.ID, nil)
				if read.Err != nil || read.Status != 200 {
					results[i] = read
					return
				}
				results[i] = uRaw(e, "PATCH", "/api/v1/users/"+u.ID, map[string]string{"given_name": fmt.Sprintf("writer %d", i)},
					"If-Match", read.Header.Get("ETag"))
			})
		}
		close(start)
		wg.Wait()
		versions := map[int64]int{}
		var winners []string
		for i, r := range results {
			switch {
			case r.Err != nil:
				t.Fatalf("goroutine %d: %v", i, r.Err)
			case r.Status == 200:
				var got uUser
				if err := json.Unmarshal(r.Body, &got); err != nil {
					t.Fatal(err)
				}
				if r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, got.Version) {
					t.Errorf("ETag %q for version %d", r.Header.Get("ETag"), got.Version)
				}
				versions[got.Version]++
				winners = append(winners, got.GivenName)
			case r.Status == 412:
				var p uProblem
				if err := json.Unmarshal(r.Body, &p); err != nil || p.Type != "urn:tessera:problem:"+uPrecondition {
					t.Errorf("412 body %s", r.Body)
				}
			default:
				t.Errorf("goroutine %d: status %d %s", i, r.Status, r.Body)
			}
		}
		if len(winners) == 0 {
			t.Fatal("no PATCH succeeded")
		}
		for v, c := range versions {
			if c != 1 {
				t.Errorf("version %d produced %d times", v, c)
			}
		}
		final := uGetUser(t, e, u.ID)
		if final.Version != 1+int64(len(winners)) {
			t.Errorf("final version %d, want 1 + %d successes", final.Version, len(winners))
		}
		if _, ok := versions[final.Version]; !ok || !slices.Contains(winners, final.GivenName) {
			t.Errorf("final state %q v%d is not one of the successes", final.GivenName, final.Version)
		}
		t.Logf("%d of %d PATCHes succeeded", len(winners), n)
	})
}

func TestUserConcurrentCreate(t *testing.T) {
	uEach(t, func(t *testing.T, e *testkit.Env) {
		const n = 16
		var wg sync.WaitGroup
		results := make([]uRawResult, n)
		start := make(chan struct{})
		for i := range n {
			// 16 spellings of one username differing only in case.
			name := []byte("racer")
			for b := range 4 {
				if i&(1<<b) != 0 {
					name[b] -= 'a' - 'A'
				}
			}
			wg.Go(func() {
				<-start
				results[i] = uRaw(e, "POST", "/api/v1/users", map[string]string{"username": string(name)})
			})
		}
		close(start)
		wg.Wait()
		created, conflicts := 0, 0
		for i, r := range results {
			switch {
			case r.Err != nil:
				t.Fatalf("goroutine %d: %v", i, r.Err)
			case r.Status == 201:
				created++
			case r.Status == 409:
				conflicts++
				var p uProblem
				if err := json.Unmarshal(r.Body, &p); err != nil || p.Type != "urn:tessera:problem:"+uConflict {
					t.Errorf("409 body %s", r.Body)
				}
			default:
				t.Errorf("goroutine %d: status %d %s", i, r.Status, r.Body)
			}
		}
		if created != 1 || conflicts != n-1 {
			t.Errorf("%d created, %d conflicts; want 1 and %d", created, conflicts, n-1)
		}
		if ids := uListIDs(t, e, "username_prefix=racer"); len(ids) != 1 {
			t.Errorf("%d rows for the username", len(ids))
		}
	})
}
