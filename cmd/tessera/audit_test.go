package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestAuditCommands: `audit verify` passes a fresh log, names the first bad
// event of a tampered one and exits non-zero; `audit archive` reports what
// it did per tenant.
func TestAuditCommands(t *testing.T) {
	data := t.TempDir()
	env := func(k string) string { return map[string]string{"TESSERA_DATA": data}[k] }
	tessera := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut, env)
		return out.String(), err
	}
	for _, slug := range []string{"acme", "bravo"} {
		if _, err := tessera("tenant", "create", "--slug", slug, "--name", slug); err != nil {
			t.Fatal(err)
		}
	}
	out, err := tessera("audit", "verify")
	if err != nil || !strings.Contains(out, "acme\tok\t1 events checked") || !strings.Contains(out, "bravo\tok") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	out, err = tessera("audit", "archive", "--tenant", "acme")
	if err != nil || !strings.Contains(out, "acme\tkept forever") || strings.Contains(out, "bravo") {
		t.Fatalf("audit archive: %v\n%s", err, out)
	}

	// Tamper with bravo's first event behind Tessera's back.
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(data, "tessera.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`DROP TRIGGER audit_events_no_update`,
		`UPDATE audit_events SET actor_id = 'mallory' WHERE seq = 1 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'bravo')`,
		`INSERT INTO tenant_settings (tenant_id, key, value) SELECT id, 'audit_retention_days', '30' FROM tenants WHERE slug = 'acme'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	out, err = tessera("audit", "verify")
	if err == nil || !strings.Contains(out, "bravo\tBROKEN at event 1: event 1 does not match its hash") || !strings.Contains(out, "acme\tok") {
		t.Fatalf("audit verify of a tampered log: %v\n%s", err, out)
	}
	if out, err = tessera("audit", "verify", "--tenant", "acme", "--db-only"); err != nil {
		t.Fatalf("one good tenant: %v\n%s", err, out)
	}
	out, err = tessera("audit", "archive", "--tenant", "acme")
	if err != nil || !strings.Contains(out, "acme\tarchived 0 events older than 30 days") {
		t.Fatalf("audit archive with a retention: %v\n%s", err, out)
	}
	if _, err := tessera("audit", "verify", "--tenant", "nope"); err == nil {
		t.Errorf("unknown tenant accepted")
	}
	if _, err := tessera("audit", "frobnicate"); err == nil {
		t.Errorf("unknown audit command accepted")
	}
}
