package api_test

// The audit suite: System Log, sign-in report, NDJSON export, Atom feed,
// verification and settings over HTTP on both databases. Every name starts
// with "aud" so that the suites sharing package api_test cannot collide.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

type audList struct {
	Items      []audit.Line `json:"items"`
	NextCursor string       `json:"next_cursor"`
}

type audProblem struct {
	Status int `json:"status"`
	Errors []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

// audFixture is a server with two tenants, tokens of every kind and events.
type audFixture struct {
	env                         *testkit.Env
	raw                         *sql.DB
	tenantA, tenantB            tenant.ID
	admin, reader, orgAdmin     string
	bAdmin                      string
	userA, userB, appA, appB    string
	countA                      int // events in tenant A after setup
	signInsA, failedSignInsAppA int
}

func audEach(t *testing.T, fn func(t *testing.T, f *audFixture)) {
	testkit.EachRawDB(t, func(t *testing.T, db *store.DB, raw *sql.DB) {
		env := testkit.NewServer(t, db)
		fn(t, audSetup(t, env, raw))
	})
}

func audCheck(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func audSetup(t *testing.T, env *testkit.Env, raw *sql.DB) *audFixture {
	t.Helper()
	ctx := audit.WithActor(context.Background(), audit.Actor{Type: "system", ID: "audit-test"})
	s := env.Server
	f := &audFixture{env: env, raw: raw, admin: env.AdminToken}
	ta, err := s.Tenants.TenantBySlug(ctx, "default")
	audCheck(t, err)
	tb, err := s.Tenants.CreateTenant(ctx, "bravo", "Bravo")
	audCheck(t, err)
	f.tenantA, f.tenantB = ta.ID, tb.ID
	org, err := s.Tenants.CreateOrganization(ctx, tenant.Scope{Tenant: ta.ID}, tenant.NewOrganization{Name: "Acme"})
	audCheck(t, err)
	tok := func(slug string, role apitoken.Role, org tenant.OrgID) string {
		_, secret, err := s.CreateToken(ctx, slug, apitoken.NewToken{Name: string(role) + string(org), Role: role, Org: org})
		audCheck(t, err)
		return secret
	}
	f.reader = tok("default", apitoken.ReadOnly, "")
	f.orgAdmin = tok("default", apitoken.Admin, org.ID)
	f.bAdmin = tok("bravo", apitoken.Admin, "")

	// Changes through the API: the events carry the token, address, agent
	// and request id.
	create := func(token, name string) string {
		res := env.Do(t, http.MethodPost, "/api/v1/users", token, map[string]any{"username": name}, "User-Agent", "audit-test/1",
			"X-Request-Id", "request-"+name)
		if res.Status != http.StatusCreated {
			t.Fatalf("create user: %d %s", res.Status, res.Body)
		}
		return res.JSON(t)["id"].(string)
	}
	f.userA = create(f.admin, "ada")
	create(f.admin, "alan")
	f.userB = create(f.bAdmin, "bob")
	res := env.Do(t, http.MethodPatch, "/api/v1/users/"+f.userA, f.admin, map[string]any{"given_name": "Ada"})
	if res.Status != http.StatusOK {
		t.Fatalf("update user: %d %s", res.Status, res.Body)
	}

	// Sign-ins as the sign-in and SSO features will append them.
	f.appA, f.appB = "app_a", "app_b"
	signIn := func(tn tenant.ID, action, app, outcome string) {
		who := f.userA
		if tn == tb.ID {
			who = f.userB
		}
		e := audit.New(audit.WithActor(ctx, audit.Actor{Type: "user", ID: who, ClientIP: "203.0.113.9", UserAgent: "Browser"}),
			string(tn), time.Now(), action, audit.TargetApplication, app, map[string]any{"method": "password"})
		e.Outcome = outcome
		audCheck(t, env.DB.AppendEvent(ctx, e))
	}
	signIn(ta.ID, audit.ActionSignIn, f.appA, audit.Success)
	signIn(ta.ID, audit.ActionSignIn, f.appA, audit.Failure)
	signIn(ta.ID, audit.ActionSSO, f.appA, audit.Success)
	signIn(ta.ID, audit.ActionSignIn, f.appB, audit.Success)
	signIn(tb.ID, audit.ActionSignIn, f.appA, audit.Success) // same app id, other tenant
	f.signInsA, f.failedSignInsAppA = 3, 1

	head, err := env.DB.AuditHead(ctx, string(ta.ID))
	audCheck(t, err)
	f.countA = int(head.Last.Seq)
	return f
}

func (f *audFixture) get(t *testing.T, token, path string, headers ...string) testkit.Response {
	t.Helper()
	return f.env.Do(t, http.MethodGet, path, token, nil, headers...)
}

func audWant(t testing.TB, res testkit.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
}

func audList200(t *testing.T, f *audFixture, token, path string) audList {
	t.Helper()
	res := f.get(t, token, path)
	audWant(t, res, http.StatusOK)
	var l audList
	res.Decode(t, &l)
	return l
}

// audWalk follows next_cursor to the end and returns the seqs.
func audWalk(t *testing.T, f *audFixture, token, path string) []int64 {
	t.Helper()
	var seqs []int64
	u, _ := url.Parse(path)
	for range 1000 {
		l := audList200(t, f, token, u.String())
		for _, it := range l.Items {
			seqs = append(seqs, it.Seq)
		}
		if l.NextCursor == "" {
			return seqs
		}
		q := u.Query()
		q.Set("cursor", l.NextCursor)
		u.RawQuery = q.Encode()
	}
	t.Fatal("cursor walk does not end")
	return nil
}

func audRange(from, to int) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, int64(i))
	}
	return out
}

func TestAuditSystemLog(t *testing.T) {
	audEach(t, func(t *testing.T, f *audFixture) {
		const v1 = "/api/v1/audit/events"
		all := audList200(t, f, f.reader, v1+"?limit=500")
		if len(all.Items) != f.countA || all.NextCursor != "" {
			t.Fatalf("%d events, want %d", len(all.Items), f.countA)
		}
		for i, it := range all.Items {
			if it.Seq != int64(i+1) || it.TenantID != string(f.tenantA) || len(it.Hash) != 64 || len(it.PrevHash) != 64 {
				t.Errorf("item %d: %+v", i, it)
			}
			if i > 0 && it.PrevHash != all.Items[i-1].Hash {
				t.Errorf("event %d does not link to %d", it.Seq, it.Seq-1)
			}
		}
		// The API change recorded who, from where and which request.
		var created audit.Line
		for _, it := range all.Items {
			if it.Action == "user.created" && it.TargetID == f.userA {
				created = it
			}
		}
		if created.ActorType != "api_token" || created.UserAgent != "audit-test/1" || created.RequestID != "request-ada" ||
			created.ClientIP != "127.0.0.1" || created.Outcome != "success" {
			t.Errorf("user.created event: %+v", created)
		}

		// Cursor walks in both orders give the whole log.
		if got := audWalk(t, f, f.reader, v1+"?limit=2"); !slices.Equal(got, audRange(1, f.countA)) {
			t.Errorf("ascending walk: %v", got)
		}
		desc := audWalk(t, f, f.reader, v1+"?limit=3&order=desc")
		slices.Reverse(desc)
		if !slices.Equal(desc, audRange(1, f.countA)) {
			t.Errorf("descending walk: %v", desc)
		}
		page := f.get(t, f.reader, v1+"?limit=2")
		if link := page.Header.Get("Link"); !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "cursor=") {
			t.Errorf("Link %q", link)
		}

		// Filters.
		count := func(query string, ok func(audit.Line) bool) {
			t.Helper()
			l := audList200(t, f, f.reader, v1+"?limit=500&"+query)
			want := 0
			for _, it := range all.Items {
				if ok(it) {
					want++
				}
			}
			if len(l.Items) != want || want == 0 {
				t.Errorf("%s: %d events, want %d (of %d)", query, len(l.Items), want, len(all.Items))
			}
			for _, it := range l.Items {
				if !ok(it) {
					t.Errorf("%s: event %d does not match: %+v", query, it.Seq, it)
				}
			}
		}
		count("action=user.created", func(l audit.Line) bool { return l.Action == "user.created" })
		count("action=user.", func(l audit.Line) bool { return strings.HasPrefix(l.Action, "user.") })
		count("action=session.", func(l audit.Line) bool { return strings.HasPrefix(l.Action, "session.") })
		count("outcome=failure", func(l audit.Line) bool { return l.Outcome == "failure" })
		count("actor_type=user&actor_id="+f.userA, func(l audit.Line) bool { return l.ActorType == "user" && l.ActorID == f.userA })
		count("target_type=user&target_id="+f.userA, func(l audit.Line) bool { return l.TargetType == "user" && l.TargetID == f.userA })
		mid := all.Items[len(all.Items)/2]
		count("since="+url.QueryEscape(mid.At), func(l audit.Line) bool { return l.At >= mid.At })
		count("until="+url.QueryEscape(mid.At), func(l audit.Line) bool { return l.At < mid.At })

		// CSV, by parameter or by Accept.
		for _, how := range [][]string{{"?format=csv&limit=3"}, {"?limit=3", "Accept", "text/csv"}} {
			res := f.get(t, f.reader, v1+how[0], how[1:]...)
			audWant(t, res, http.StatusOK)
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
				t.Errorf("Content-Type %q", ct)
			}
			rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
			if err != nil || len(rows) != 4 || rows[0][0] != "seq" || rows[0][13] != "hash" || rows[1][0] != "1" ||
				rows[1][13] != all.Items[0].Hash || res.Header.Get("Link") == "" {
				t.Errorf("CSV %v: %q %v", how, res.Body, err)
			}
		}

		// Bad input names the field; unknown parameters are refused.
		for query, field := range map[string]string{
			"limit=0": "limit", "limit=501": "limit", "order=sideways": "order", "since=yesterday": "since",
			"until=2026-13-01T00:00:00Z": "until", "outcome=maybe": "outcome", "sort=at": "sort", "cursor=bogus": "cursor",
			"format=xml": "format", "stauts=x": "stauts", "action=.": "action",
			"since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z": "until",
			"actor_id=" + strings.Repeat("x", 600):                  "actor_id",
		} {
			res := f.get(t, f.reader, v1+"?"+query)
			var p audProblem
			_ = json.Unmarshal(res.Body, &p)
			if res.Status != http.StatusBadRequest || len(p.Errors) == 0 || p.Errors[0].Field != field {
				t.Errorf("%s: %d %s, want 400 naming %s", query, res.Status, res.Body, field)
			}
		}
	})
}

func TestAuditSignInReport(t *testing.T) {
	audEach(t, func(t *testing.T, f *audFixture) {
		const path = "/api/v1/reports/sign-ins"
		l := audList200(t, f, f.reader, path+"?application_id="+f.appA)
		if len(l.Items) != f.signInsA {
			t.Fatalf("%d sign-ins to %s, want %d: %+v", len(l.Items), f.appA, f.signInsA, l.Items)
		}
		for _, it := range l.Items {
			if it.TargetType != audit.TargetApplication || it.TargetID != f.appA || it.TenantID != string(f.tenantA) ||
				(it.Action != audit.ActionSignIn && it.Action != audit.ActionSSO) {
				t.Errorf("not a sign-in to %s: %+v", f.appA, it)
			}
		}
		if l := audList200(t, f, f.reader, path+"?application_id="+f.appA+"&outcome=failure"); len(l.Items) != f.failedSignInsAppA {
			t.Errorf("failed sign-ins: %+v", l.Items)
		}
		if got := audWalk(t, f, f.reader, path+"?application_id="+f.appA+"&limit=1&order=desc"); len(got) != f.signInsA ||
			!slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) {
			t.Errorf("descending walk %v", got)
		}
		res := f.get(t, f.reader, path+"?application_id="+f.appA+"&format=csv")
		rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
		if res.Status != http.StatusOK || err != nil || len(rows) != f.signInsA+1 {
			t.Errorf("CSV: %d %s %v", res.Status, res.Body, err)
		}
		for query, field := range map[string]string{"": "application_id", "application_id=x&action=y": "action",
			"application_id=x&since=soon": "since"} {
			res := f.get(t, f.reader, path+"?"+query)
			var p audProblem
			_ = json.Unmarshal(res.Body, &p)
			if res.Status != http.StatusBadRequest || len(p.Errors) == 0 || p.Errors[0].Field != field {
				t.Errorf("%q: %d %s, want 400 naming %s", query, res.Status, res.Body, field)
			}
		}
		// Another tenant's sign-ins to an app with the same id stay there.
		if l := audList200(t, f, f.bAdmin, path+"?application_id="+f.appA); len(l.Items) != 1 || l.Items[0].TenantID != string(f.tenantB) {
			t.Errorf("tenant B sees %+v", l.Items)
		}
	})
}

// audReadNDJSON parses an export and verifies it offline, as an auditor
// holding only the file would.
func audReadNDJSON(t *testing.T, body []byte, tenant string, from audit.Anchor) ([]audit.Line, audit.Result) {
	t.Helper()
	var lines []audit.Line
	v := audit.NewVerifier(tenant, from)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var l audit.Line
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d: %v: %s", len(lines)+1, err, sc.Bytes())
		}
		lines = append(lines, l)
		r := l.Record()
		v.Add(&r)
	}
	return lines, v.Result(v.Position())
}

func TestAuditExport(t *testing.T) {
	audEach(t, func(t *testing.T, f *audFixture) {
		res := f.get(t, f.reader, "/api/v1/audit/export")
		audWant(t, res, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q", ct)
		}
		lines, v := audReadNDJSON(t, res.Body, string(f.tenantA), audit.Anchor{})
		if len(lines) != f.countA || !v.OK || v.Checked != int64(f.countA) {
			t.Fatalf("export: %d lines, verification %+v", len(lines), v)
		}
		// The export's last hash is the head the API's verification reports.
		vr := f.env.Do(t, http.MethodPost, "/api/v1/audit/verify", f.admin, nil)
		audWant(t, vr, http.StatusOK)
		if got := vr.JSON(t)["head_hash"]; got != lines[len(lines)-1].Hash {
			t.Errorf("head_hash %v, export ends with %s", got, lines[len(lines)-1].Hash)
		}
		// A range continues the chain from the event before it.
		part := f.get(t, f.reader, "/api/v1/audit/export?from_seq=3&to_seq=5")
		prev, _ := audit.ParseHash(lines[1].Hash)
		if l, v := audReadNDJSON(t, part.Body, string(f.tenantA), audit.Anchor{Seq: 2, Hash: prev}); len(l) != 3 || !v.OK {
			t.Errorf("range 3..5: %d lines, %+v", len(l), v)
		}
		if tail := f.get(t, f.reader, fmt.Sprintf("/api/v1/audit/export?from_seq=%d", f.countA+1)); tail.Status != http.StatusOK || len(tail.Body) != 0 {
			t.Errorf("export past the end: %d %q", tail.Status, tail.Body)
		}
		for query, field := range map[string]string{"from_seq=0": "from_seq", "to_seq=x": "to_seq", "from_seq=5&to_seq=4": "to_seq",
			"format=csv": "format"} {
			res := f.get(t, f.reader, "/api/v1/audit/export?"+query)
			var p audProblem
			_ = json.Unmarshal(res.Body, &p)
			if res.Status != http.StatusBadRequest || len(p.Errors) == 0 || p.Errors[0].Field != field {
				t.Errorf("%s: %d %s, want 400 naming %s", query, res.Status, res.Body, field)
			}
			if cd := res.Header.Get("Content-Disposition"); cd != "" {
				t.Errorf("%s: an error answer with Content-Disposition %q", query, cd)
			}
		}
		// Tenant B's export holds only its own chain.
		resB := f.get(t, f.bAdmin, "/api/v1/audit/export")
		linesB, vB := audReadNDJSON(t, resB.Body, string(f.tenantB), audit.Anchor{})
		if !vB.OK {
			t.Errorf("tenant B export: %+v", vB)
		}
		for _, l := range linesB {
			if l.TenantID != string(f.tenantB) || l.TargetID == f.userA {
				t.Errorf("tenant B exports %+v", l)
			}
		}
	})
}

// Atom 1.0, read back with encoding/xml.
type audFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Author  struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Links []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Entries []struct {
		ID         string `xml:"id"`
		Title      string `xml:"title"`
		Updated    string `xml:"updated"`
		Categories []struct {
			Scheme string `xml:"scheme,attr"`
			Term   string `xml:"term,attr"`
		} `xml:"category"`
		Content struct {
			Type string `xml:"type,attr"`
			Body string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

func TestAuditFeed(t *testing.T) {
	audEach(t, func(t *testing.T, f *audFixture) {
		res := f.get(t, f.reader, "/api/v1/audit/feed?limit=3")
		audWant(t, res, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); ct != "application/atom+xml; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		var feed audFeed
		if err := xml.Unmarshal(res.Body, &feed); err != nil {
			t.Fatalf("not Atom: %v\n%s", err, res.Body)
		}
		if feed.ID != "urn:tessera:audit:"+string(f.tenantA) || !strings.Contains(feed.Title, "Default") || len(feed.Entries) != 3 ||
			feed.Author.Name == "" || len(feed.Links) != 1 || feed.Links[0].Rel != "self" {
			t.Fatalf("feed %+v", feed)
		}
		if _, err := time.Parse(time.RFC3339, feed.Updated); err != nil || feed.Updated != feed.Entries[0].Updated {
			t.Errorf("updated %q, newest entry %q", feed.Updated, feed.Entries[0].Updated)
		}
		for i, e := range feed.Entries {
			want := fmt.Sprintf("urn:tessera:audit:%s:%d", f.tenantA, f.countA-i) // newest first
			var l audit.Line
			if e.ID != want || e.Content.Type != "text" || json.Unmarshal([]byte(e.Content.Body), &l) != nil ||
				l.Seq != int64(f.countA-i) || len(e.Categories) != 2 || e.Categories[0].Term != l.Action ||
				!strings.HasPrefix(e.Title, l.Action) {
				t.Errorf("entry %d: %+v", i, e)
			}
		}
		var failed audFeed
		audCheck(t, xml.Unmarshal(f.get(t, f.reader, "/api/v1/audit/feed?outcome=failure").Body, &failed))
		if len(failed.Entries) != 1 || !strings.HasSuffix(failed.Entries[0].Title, "(failure)") {
			t.Errorf("failures: %+v", failed.Entries)
		}
		for query, field := range map[string]string{"limit=501": "limit", "cursor=x": "cursor", "outcome=x": "outcome"} {
			res := f.get(t, f.reader, "/api/v1/audit/feed?"+query)
			var p audProblem
			_ = json.Unmarshal(res.Body, &p)
			if res.Status != http.StatusBadRequest || len(p.Errors) == 0 || p.Errors[0].Field != field {
				t.Errorf("%s: %d %s, want 400 naming %s", query, res.Status, res.Body, field)
			}
		}
	})
}

func TestAuditVerifyOverHTTP(t *testing.T) {
	audEach(t, func(t *testing.T, f *audFixture) {
		verify := func() map[string]any {
			t.Helper()
			res := f.env.Do(t, http.MethodPost, "/api/v1/audit/verify", f.admin, nil)
			audWant(t, res, http.StatusOK)
			return res.JSON(t)
		}
		if v := verify(); v["ok"] != true || v["events_checked"] != float64(f.countA) || v["first_bad_seq"] != nil ||
			v["reason"] != nil || v["head_seq"] != float64(f.countA) {
			t.Fatalf("verify: %v", v)
		}
		audWant(t, f.env.Do(t, http.MethodPost, "/api/v1/audit/verify", f.reader, nil), http.StatusForbidden)
		audWant(t, f.env.Do(t, http.MethodPost, "/api/v1/audit/verify?deep=1", f.admin, nil), http.StatusBadRequest)

		// Tamper with event 3 behind Tessera's back.
		drop := `DROP TRIGGER audit_events_no_update`
		if f.env.DB.Dialect() == store.Postgres {
			drop = `DROP TRIGGER audit_events_guard ON audit_events`
		}
		if _, err := f.raw.Exec(drop); err != nil {
			t.Fatal(err)
		}
		if _, err := f.raw.Exec(`UPDATE audit_events SET outcome = 'failure' WHERE tenant_id = $1 AND seq = 3`, string(f.tenantA)); err != nil {
			t.Fatal(err)
		}
		v := verify()
		if v["ok"] != false || v["first_bad_seq"] != float64(3) || !strings.Contains(fmt.Sprint(v["reason"]), "edited") {
			t.Fatalf("verify a tampered log: %v", v)
		}
		// The other tenant's chain is untouched.
		res := f.env.Do(t, http.MethodPost, "/api/v1/audit/verify", f.bAdmin, nil)
		if res.JSON(t)["ok"] != true {
			t.Errorf("tenant B: %s", res.Body)
		}
	})
}

func TestAuditSettings(t *testing.T) {
	audEach(t, func(t *testing.T, f *audFixture) {
		const path = "/api/v1/audit/settings"
		if got := string(bytes.TrimSpace(f.get(t, f.reader, path).Body)); got != `{"retention_days":null}` {
			t.Errorf("default settings %s", got)
		}
		res := f.env.Do(t, http.MethodPut, path, f.admin, map[string]any{"retention_days": 90})
		audWant(t, res, http.StatusOK)
		if got := f.get(t, f.reader, path).JSON(t)["retention_days"]; got != float64(90) {
			t.Errorf("retention %v", got)
		}
		l := audList200(t, f, f.reader, "/api/v1/audit/events?action=audit.retention_changed")
		if len(l.Items) != 1 || string(l.Items[0].Details) != `{"retention_days":{"new":90,"old":0}}` || l.Items[0].ActorType != "api_token" {
			t.Errorf("retention event %+v", l.Items)
		}
		// The same value again changes nothing and appends nothing.
		f.env.Unchanged(t, func() {
			audWant(t, f.env.Do(t, http.MethodPut, path, f.admin, map[string]any{"retention_days": 90}), http.StatusOK)
		})
		for _, bad := range []string{`{"retention_days":0}`, `{"retention_days":-3}`, `{"retention_days":36501}`,
			`{"retention_days":"90"}`, `{"retention":90}`} {
			f.env.Unchanged(t, func() {
				res := f.env.Do(t, http.MethodPut, path, f.admin, bad)
				var p audProblem
				_ = json.Unmarshal(res.Body, &p)
				if res.Status != http.StatusBadRequest || len(p.Errors) == 0 {
					t.Errorf("%s: %d %s", bad, res.Status, res.Body)
				}
			})
		}
		f.env.Unchanged(t, func() {
			audWant(t, f.env.Do(t, http.MethodPut, path, f.reader, map[string]any{"retention_days": 1}), http.StatusForbidden)
		})
		audWant(t, f.env.Do(t, http.MethodPut, path, f.admin, map[string]any{"retention_days": nil}), http.StatusOK)
		if got := f.get(t, f.reader, path).JSON(t)["retention_days"]; got != nil {
			t.Errorf("retention after null: %v", got)
		}
		// Tenant B's setting is its own.
		if got := f.get(t, f.bAdmin, path).JSON(t)["retention_days"]; got != nil {
			t.Errorf("tenant B retention %v", got)
		}
	})
}

// TestAuditAccess: organization-scoped tokens read none of the audit log;
// a tenant's token never sees another tenant's events, whatever it filters.
func TestAuditAccess(t *testing.T) {
	audEach(t, func(t *testing.T, f *audFixture) {
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/v1/audit/events"}, {"GET", "/api/v1/audit/export"}, {"GET", "/api/v1/audit/feed"},
			{"POST", "/api/v1/audit/verify"}, {"GET", "/api/v1/audit/settings"}, {"PUT", "/api/v1/audit/settings"},
			{"GET", "/api/v1/reports/sign-ins?application_id=" + f.appA},
		} {
			var body any
			if r.method == "PUT" {
				body = map[string]any{"retention_days": 7}
			}
			f.env.Unchanged(t, func() {
				if res := f.env.Do(t, r.method, r.path, f.orgAdmin, body); res.Status != http.StatusForbidden {
					t.Errorf("%s %s as an organization admin: %d %s", r.method, r.path, res.Status, res.Body)
				}
			})
			if res := f.env.Do(t, r.method, r.path, "", body); res.Status != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %d", r.method, r.path, res.Status)
			}
		}
		// Tenant B filtering on tenant A's objects finds nothing.
		for _, q := range []string{"target_id=" + f.userA, "actor_id=" + f.userA, "limit=500"} {
			for _, it := range audList200(t, f, f.bAdmin, "/api/v1/audit/events?"+q).Items {
				if it.TenantID != string(f.tenantB) || it.TargetID == f.userA {
					t.Errorf("tenant B sees %+v", it)
				}
			}
		}
		if l := audList200(t, f, f.bAdmin, "/api/v1/audit/events?target_id="+f.userA); len(l.Items) != 0 {
			t.Errorf("tenant B finds tenant A's user: %+v", l.Items)
		}
		// A's cursor does not open B's log: the cursor only positions, the
		// token's tenant decides.
		l := audList200(t, f, f.admin, "/api/v1/audit/events?limit=1")
		for _, it := range audList200(t, f, f.bAdmin, "/api/v1/audit/events?limit=500&cursor="+url.QueryEscape(l.NextCursor)).Items {
			if it.TenantID != string(f.tenantB) {
				t.Errorf("tenant B with A's cursor sees %+v", it)
			}
		}
		var feed audFeed
		audCheck(t, xml.Unmarshal(f.get(t, f.bAdmin, "/api/v1/audit/feed?limit=500").Body, &feed))
		for _, e := range feed.Entries {
			if !strings.HasPrefix(e.ID, "urn:tessera:audit:"+string(f.tenantB)+":") || strings.Contains(e.Content.Body, f.userA) {
				t.Errorf("tenant B's feed holds %+v", e)
			}
		}
	})
}
