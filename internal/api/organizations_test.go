package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tessera-iam/tessera/internal/testkit"
)

type isoOrg struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	ExternalID *string `json:"external_id"`
	Status     string  `json:"status"`
	Version    int64   `json:"version"`
	Domains    []struct {
		Domain             string  `json:"domain"`
		Verified           bool    `json:"verified"`
		VerifiedAt         *string `json:"verified_at"`
		VerificationRecord struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"verification_record"`
	} `json:"domains"`
}

func isoOrgOf(t *testing.T, res testkit.Response, status int) isoOrg {
	t.Helper()
	isoExpect(t, res, status)
	var o isoOrg
	res.Decode(t, &o)
	return o
}

func (o isoOrg) domainNames() []string {
	var out []string
	for _, d := range o.Domains {
		out = append(out, d.Domain)
	}
	return out
}

func TestIsoOrganizationLifecycle(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		tok := env.AdminToken
		const orgs = "/api/v1/organizations"
		dns := &isoTXT{}
		env.Server.Tenants.Resolver = dns

		// Create with domains: normalized, unverified, each with the DNS
		// record that would prove control.
		res := env.Do(t, http.MethodPost, orgs, tok, map[string]any{"name": "Globex", "external_id": "crm-1",
			"domains": []string{"Globex.COM", "globex.net."}})
		g := isoOrgOf(t, res, http.StatusCreated)
		if res.Header.Get("Location") != orgs+"/"+g.ID || res.Header.Get("ETag") != `"1"` {
			t.Errorf("Location %q, ETag %q", res.Header.Get("Location"), res.Header.Get("ETag"))
		}
		if g.Status != "active" || g.Version != 1 || g.ExternalID == nil || *g.ExternalID != "crm-1" {
			t.Errorf("created %+v", g)
		}
		if got := g.domainNames(); !slices.Equal(got, []string{"globex.com", "globex.net"}) {
			t.Fatalf("domains %v", got)
		}
		tokens := map[string]bool{}
		for _, d := range g.Domains {
			rec := d.VerificationRecord
			if d.Verified || d.VerifiedAt != nil || rec.Name != "_tessera-challenge."+d.Domain ||
				!strings.HasPrefix(rec.Value, "tessera-verification=") || len(rec.Value) < len("tessera-verification=")+16 {
				t.Errorf("domain %+v", d)
			}
			tokens[rec.Value] = true
		}
		if len(tokens) != 2 {
			t.Errorf("two domains share a verification value")
		}
		// The record is stable: reading it again gives the same value.
		again := isoOrgOf(t, env.Do(t, http.MethodGet, orgs+"/"+g.ID, tok, nil), http.StatusOK)
		if again.Domains[0].VerificationRecord != g.Domains[0].VerificationRecord {
			t.Errorf("verification record changed between reads")
		}

		// Uniqueness: name (case-insensitively), external_id, domains.
		p := isoRefused(t, env, http.StatusConflict, http.MethodPost, orgs, tok, map[string]any{"name": "  gLoBeX "})
		if !strings.Contains(p.Detail, "name") {
			t.Errorf("duplicate name detail %q", p.Detail)
		}
		p = isoRefused(t, env, http.StatusConflict, http.MethodPost, orgs, tok, map[string]any{"name": "Other", "external_id": "crm-1"})
		if !strings.Contains(p.Detail, "external_id") {
			t.Errorf("duplicate external_id detail %q", p.Detail)
		}
		isoRefused(t, env, http.StatusConflict, http.MethodPost, orgs, tok, map[string]any{"name": "Initech", "domains": []string{"GLOBEX.com"}})
		initech := isoCreate(t, env, tok, orgs, map[string]any{"name": "Initech", "domains": []string{"initech.example"}})
		isoRefused(t, env, http.StatusConflict, http.MethodPost, orgs+"/"+initech+"/domains", tok, map[string]any{"domain": "globex.net"})
		isoRefused(t, env, http.StatusConflict, http.MethodPost, orgs+"/"+initech+"/domains", tok, map[string]any{"domain": "INITECH.example"})

		// Invalid domains and fields.
		for _, bad := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "Bad", "domains": []string{"not a domain"}}, "domains.0"},
			{map[string]any{"name": "Bad", "domains": []string{"ok.example", "localhost"}}, "domains.1"},
			{map[string]any{"name": "Bad", "domains": []string{"-bad.example"}}, "domains.0"},
			{map[string]any{"name": "Bad", "domains": []string{"x.example", "X.example"}}, "domains.1"},
			{map[string]any{"name": "Bad", "domains": []string{"bücher.example"}}, "domains.0"},
			{map[string]any{"name": ""}, "name"},
			{map[string]any{"name": "Bad", "status": "closed"}, "status"},
			{map[string]any{"name": "Bad", "colour": "red"}, "colour"},
		} {
			var res testkit.Response
			env.Unchanged(t, func() { res = env.Do(t, http.MethodPost, orgs, tok, bad.body) })
			if res.Status != http.StatusBadRequest || !isoHasField(t, res, bad.field) {
				t.Errorf("POST %v: %d %s, want 400 naming %s", bad.body, res.Status, res.Body, bad.field)
			}
		}
		res = env.Do(t, http.MethodPost, orgs+"/"+g.ID+"/domains", tok, map[string]any{"domain": "nodot"})
		if res.Status != http.StatusBadRequest || !isoHasField(t, res, "domain") {
			t.Errorf("add invalid domain: %d %s", res.Status, res.Body)
		}

		// PATCH with If-Match.
		res = env.Do(t, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"name": "Globex Corp"}, "If-Match", `"1"`)
		g = isoOrgOf(t, res, http.StatusOK)
		if g.Name != "Globex Corp" || g.Version != 2 || res.Header.Get("ETag") != `"2"` {
			t.Errorf("after rename: %+v, ETag %q", g, res.Header.Get("ETag"))
		}
		isoRefused(t, env, http.StatusPreconditionFailed, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"name": "Stale"}, "If-Match", `"1"`)
		isoRefused(t, env, http.StatusBadRequest, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"name": "Bad tag"}, "If-Match", `2`)
		isoRefused(t, env, http.StatusConflict, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"name": "INITECH"}, "If-Match", `"2"`)
		isoRefused(t, env, http.StatusBadRequest, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"name": nil})
		isoRefused(t, env, http.StatusNotFound, http.MethodPatch, orgs+"/org_missing", tok, map[string]any{"name": "X"})
		g = isoOrgOf(t, env.Do(t, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"external_id": nil}, "If-Match", "*"), http.StatusOK)
		if g.ExternalID != nil || g.Version != 3 {
			t.Errorf("external_id null should clear it: %+v", g)
		}
		// The freed external_id can be taken by another organization.
		isoExpect(t, env.Do(t, http.MethodPatch, orgs+"/"+initech, tok, map[string]any{"external_id": "crm-1"}), http.StatusOK)

		// Status: suspended, then active again; nothing else is a status.
		g = isoOrgOf(t, env.Do(t, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"status": "suspended"}), http.StatusOK)
		if g.Status != "suspended" {
			t.Errorf("status %q", g.Status)
		}
		isoRefused(t, env, http.StatusBadRequest, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"status": "bogus"})
		isoRefused(t, env, http.StatusBadRequest, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"status": nil})
		g = isoOrgOf(t, env.Do(t, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"status": "active"}), http.StatusOK)
		if g.Status != "active" {
			t.Errorf("status %q", g.Status)
		}
		// A PATCH that changes nothing keeps the version and writes nothing.
		env.Unchanged(t, func() {
			same := isoOrgOf(t, env.Do(t, http.MethodPatch, orgs+"/"+g.ID, tok, map[string]any{"name": g.Name, "status": "active"}), http.StatusOK)
			if same.Version != g.Version {
				t.Errorf("no-op PATCH bumped the version to %d", same.Version)
			}
		})

		// Add and remove a domain.
		g = isoOrgOf(t, env.Do(t, http.MethodPost, orgs+"/"+g.ID+"/domains", tok, map[string]any{"domain": "Globex.ORG"}), http.StatusCreated)
		if got := g.domainNames(); !slices.Equal(got, []string{"globex.com", "globex.net", "globex.org"}) {
			t.Errorf("after add: %v", got)
		}
		g = isoOrgOf(t, env.Do(t, http.MethodDelete, orgs+"/"+g.ID+"/domains/globex.net", tok, nil), http.StatusOK)
		if got := g.domainNames(); !slices.Equal(got, []string{"globex.com", "globex.org"}) {
			t.Errorf("after remove: %v", got)
		}
		isoRefused(t, env, http.StatusNotFound, http.MethodDelete, orgs+"/"+g.ID+"/domains/globex.net", tok, nil)
		// The removed domain is free for another organization.
		isoExpect(t, env.Do(t, http.MethodPost, orgs+"/"+initech+"/domains", tok, map[string]any{"domain": "globex.net"}), http.StatusCreated)

		// Verify: without the TXT record the domain stays unverified and
		// nothing is written; a wrong value is no better.
		p = isoRefused(t, env, http.StatusBadRequest, http.MethodPost, orgs+"/"+g.ID+"/domains/globex.com/verify", tok, nil)
		if !strings.Contains(p.Detail, "verification record") {
			t.Errorf("verify detail %q", p.Detail)
		}
		rec := g.Domains[0].VerificationRecord
		dns.set(rec.Name, "tessera-verification=not-the-token")
		isoRefused(t, env, http.StatusBadRequest, http.MethodPost, orgs+"/"+g.ID+"/domains/globex.com/verify", tok, nil)
		isoRefused(t, env, http.StatusNotFound, http.MethodPost, orgs+"/"+g.ID+"/domains/unclaimed.example/verify", tok, nil)
		isoRefused(t, env, http.StatusNotFound, http.MethodPost, orgs+"/org_missing/domains/globex.com/verify", tok, nil)
		g = isoOrgOf(t, env.Do(t, http.MethodGet, orgs+"/"+g.ID, tok, nil), http.StatusOK)
		for _, d := range g.Domains {
			if d.Verified {
				t.Errorf("%s verified without its record", d.Domain)
			}
		}
		// With the record in place it verifies; verifying again changes nothing.
		dns.set(rec.Name, rec.Value)
		g = isoOrgOf(t, env.Do(t, http.MethodPost, orgs+"/"+g.ID+"/domains/GLOBEX.com/verify", tok, nil), http.StatusOK)
		if d := g.Domains[0]; d.Domain != "globex.com" || !d.Verified || d.VerifiedAt == nil || g.Domains[1].Verified {
			t.Errorf("after verify: %+v", g.Domains)
		}
		env.Unchanged(t, func() {
			isoExpect(t, env.Do(t, http.MethodPost, orgs+"/"+g.ID+"/domains/globex.com/verify", tok, nil), http.StatusOK)
		})

		// Delete: refused while a user is homed there, then allowed.
		uid := isoCreate(t, env, tok, "/api/v1/users", map[string]any{"username": "homed", "organization_id": g.ID})
		isoRefused(t, env, http.StatusConflict, http.MethodDelete, orgs+"/"+g.ID, tok, nil)
		isoExpect(t, env.Do(t, http.MethodPost, "/api/v1/users/"+uid+"/lifecycle/deactivate", tok, nil), http.StatusOK)
		isoExpect(t, env.Do(t, http.MethodDelete, "/api/v1/users/"+uid, tok, nil), http.StatusNoContent)
		isoExpect(t, env.Do(t, http.MethodDelete, orgs+"/"+g.ID, tok, nil), http.StatusNoContent)
		isoRefused(t, env, http.StatusNotFound, http.MethodGet, orgs+"/"+g.ID, tok, nil)
		isoRefused(t, env, http.StatusNotFound, http.MethodDelete, orgs+"/"+g.ID, tok, nil)
		// Its domains went with it.
		isoExpect(t, env.Do(t, http.MethodPost, orgs, tok, map[string]any{"name": "Globex Again", "domains": []string{"globex.com"}}), http.StatusCreated)
	})
}

func TestIsoOrganizationListing(t *testing.T) {
	testkit.EachServer(t, func(t *testing.T, env *testkit.Env) {
		tok := env.AdminToken
		const orgs = "/api/v1/organizations"
		ids := map[string]string{}
		for _, o := range []map[string]any{
			{"name": "Alpha", "external_id": "a-1"},
			{"name": "alphabet", "external_id": "a-2", "status": "suspended"},
			{"name": "Beta"},
			{"name": "Gamma", "status": "suspended"},
			{"name": "Delta", "external_id": "d-1"},
			{"name": "Epsilon"},
			{"name": "Zeta"},
		} {
			ids[o["name"].(string)] = isoCreate(t, env, tok, orgs, o)
		}
		names := func(q string) []string {
			t.Helper()
			var l struct {
				Items []isoOrg `json:"items"`
			}
			env.Do(t, http.MethodGet, orgs+"?"+q, tok, nil).Decode(t, &l)
			var out []string
			for _, o := range l.Items {
				out = append(out, o.Name)
			}
			sort.Strings(out)
			return out
		}
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"status=suspended", []string{"Gamma", "alphabet"}},
			{"status=active&name_prefix=a", []string{"Alpha"}},
			{"external_id=a-1", []string{"Alpha"}},
			{"external_id=nope", nil},
			{"name_prefix=ALP", []string{"Alpha", "alphabet"}},
			{"name_prefix=alphab", []string{"alphabet"}},
			{"name_prefix=" + url.QueryEscape("%"), nil},
		} {
			if got := names(c.query); !slices.Equal(got, c.want) {
				t.Errorf("?%s = %v, want %v", c.query, got, c.want)
			}
		}
		for _, bad := range []string{"stauts=active", "status=closed", "limit=-1", "limit=501", "limit=x", "order=sideways", "sort=colour", "cursor=garbage"} {
			isoRefused(t, env, http.StatusBadRequest, http.MethodGet, orgs+"?"+bad, tok, nil)
		}

		// Walk every page with a cursor: each organization exactly once, in order.
		walk := func(query string) []string {
			t.Helper()
			var all []string
			next := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatalf("cursor walk does not end")
				}
				q := query
				if next != "" {
					q += "&cursor=" + url.QueryEscape(next)
				}
				res := env.Do(t, http.MethodGet, orgs+"?"+q, tok, nil)
				isoExpect(t, res, http.StatusOK)
				var l struct {
					Items      []isoOrg `json:"items"`
					NextCursor string   `json:"next_cursor"`
				}
				res.Decode(t, &l)
				if len(l.Items) > 2 {
					t.Fatalf("page of %d with limit=%s", len(l.Items), query)
				}
				for _, o := range l.Items {
					all = append(all, o.Name)
				}
				if (l.NextCursor != "") != strings.Contains(res.Header.Get("Link"), `rel="next"`) {
					t.Errorf("next_cursor %q but Link %q", l.NextCursor, res.Header.Get("Link"))
				}
				if l.NextCursor == "" {
					return all
				}
				next = l.NextCursor
			}
		}
		// The default order is by id, which is time-ordered to the
		// millisecond (random within one): compare with one big page.
		var one struct {
			Items []isoOrg `json:"items"`
		}
		env.Do(t, http.MethodGet, orgs+"?limit=500", tok, nil).Decode(t, &one)
		var created []string
		for _, o := range one.Items {
			created = append(created, o.Name)
		}
		if got := walk("limit=2"); len(created) != len(ids) || !slices.Equal(got, created) {
			t.Errorf("walk by creation = %v, want %v", got, created)
		}
		byName := []string{"Alpha", "alphabet", "Beta", "Delta", "Epsilon", "Gamma", "Zeta"}
		if got := walk("limit=2&sort=name"); !slices.Equal(got, byName) {
			t.Errorf("walk by name = %v, want %v", got, byName)
		}
		desc := slices.Clone(byName)
		slices.Reverse(desc)
		if got := walk("limit=2&sort=name&order=desc"); !slices.Equal(got, desc) {
			t.Errorf("walk by name desc = %v, want %v", got, desc)
		}
		got := walk("limit=1&status=suspended")
		sort.Strings(got)
		if !slices.Equal(got, []string{"Gamma", "alphabet"}) {
			t.Errorf("walk filtered = %v", got)
		}
	})
}
