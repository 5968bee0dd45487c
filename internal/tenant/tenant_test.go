package tenant

import (
	"errors"
	"testing"

	"github.com/tessera-iam/tessera/internal/errkind"
)

func TestNormalizeDomain(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Example.COM", "example.com"},
		{" partner.example. ", "partner.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a-b.c-d.example", "a-b.c-d.example"},
	} {
		if got, err := NormalizeDomain("domain", tc.in); err != nil || got != tc.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v", tc.in, got, err)
		}
	}
	for _, in := range []string{"", "localhost", "bücher.example", "-a.example", "a-.example", "a..example",
		"exa mple.com", "ex_ample.com", "http://example.com", "user@example.com", "[::1]"} {
		if _, err := NormalizeDomain("domain", in); !errors.Is(err, errkind.Invalid) {
			t.Errorf("NormalizeDomain(%q) accepted", in)
		}
	}
}

func TestSlugAndScope(t *testing.T) {
	for slug, ok := range map[string]bool{"acme": true, "acme-2": true, "a": true, "Acme": false, "-acme": false,
		"acme-": false, "api": false, "ac me": false, "ac/me": false} {
		if err := validateSlug(slug); (err == nil) != ok {
			t.Errorf("validateSlug(%q) = %v", slug, err)
		}
	}
	tw, org := Scope{Tenant: "t"}, Scope{Tenant: "t", Org: "o1"}
	if !tw.Allows("") || !tw.Allows("o2") || org.Allows("") || org.Allows("o2") || !org.Allows("o1") {
		t.Error("scope reach is wrong")
	}
}
