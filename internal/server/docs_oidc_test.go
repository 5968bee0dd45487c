package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// TestOIDCGuide runs the commands of docs/oidc.md, in order, against a real
// server, as its reader would, and checks what they print: discovery, a
// client-credentials token that introspects as active until revoked, and
// the web application's setup view.
func TestOIDCGuide(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		e := testkit.NewServer(t, db)
		res := e.Do(t, http.MethodPost, "/api/v1/groups", e.AdminToken, map[string]any{"name": "Partners"})
		if res.Status != http.StatusCreated {
			t.Fatalf("create group: %d %s", res.Status, res.Body)
		}
		group := res.JSON(t)["id"].(string)
		outs := testkit.DocRun{Env: []string{"TESSERA_URL=" + e.URL, "TENANT=" + server.DefaultTenant, "TOKEN=" + e.AdminToken,
			"GROUP=" + group}, Tools: []string{"curl", "jq", "base64"}, Dir: t.TempDir()}.Run(t, "../../docs/oidc.md")
		output := func(command string) string {
			t.Helper()
			for _, o := range outs {
				if strings.Contains(o.Script, command) {
					return o.Stdout
				}
			}
			t.Fatalf("docs/oidc.md has no block with %q", command)
			return ""
		}
		// jsonLines decodes the JSON values a block printed, one after another.
		jsonLines := func(command string) []map[string]any {
			t.Helper()
			var out []map[string]any
			dec := json.NewDecoder(strings.NewReader(output(command)))
			for dec.More() {
				var v map[string]any
				if err := dec.Decode(&v); err != nil {
					t.Fatalf("the block with %q printed %q: %v", command, output(command), err)
				}
				out = append(out, v)
			}
			return out
		}

		issuer := e.URL + "/t/" + server.DefaultTenant
		if d := jsonLines("openid-configuration"); len(d) != 1 || d[0]["issuer"] != issuer || d[0]["token_endpoint"] != issuer+"/oauth2/token" {
			t.Errorf("discovery printed %v", d)
		}
		if id := strings.TrimSpace(output(`echo "$CLIENT_ID"`)); !strings.HasPrefix(id, "cli_") {
			t.Errorf("the machine client block printed %q, not a client id", id)
		}
		if hdr := output("cut -d. -f1"); !strings.Contains(hdr, `"typ":"at+jwt"`) {
			t.Errorf("the access token's header is %q, not an RFC 9068 access token", hdr)
		}
		in := jsonLines("/oauth2/revoke")
		if len(in) != 2 || in[0]["active"] != true || in[0]["scope"] != "orders:read" || in[1]["active"] != false {
			t.Errorf("introspection before and after revocation printed %v", in)
		}
		if s := jsonLines("/oidc/setup"); len(s) != 1 || s[0]["issuer"] != issuer || !strings.HasPrefix(s[0]["client_id"].(string), "cli_") ||
			s[0]["authorization_endpoint"] != issuer+"/oauth2/authorize" {
			t.Errorf("the setup view printed %v", s)
		}
	})
}
