package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestCSRF(t *testing.T) {
	c := CSRF{Key: []byte("key-one"), Cookie: "csrf"}
	token, seed := c.Token(httptest.NewRequest(http.MethodGet, "/", nil))
	if seed == "" || token == "" {
		t.Fatal("no seed for a browser without one")
	}
	post := func(cookie, form, header string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(url.Values{"csrf": {form}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: "csrf", Value: cookie})
		}
		if header != "" {
			r.Header.Set("X-CSRF-Token", header)
		}
		return r
	}
	if again, newSeed := c.Token(post(seed, "", "")); again != token || newSeed != "" {
		t.Error("a browser with a seed got another token or seed")
	}
	other, _ := CSRF{Key: []byte("key-two"), Cookie: "csrf"}.Token(post(seed, "", ""))
	for _, tc := range []struct {
		name string
		r    *http.Request
		ok   bool
	}{
		{"form field", post(seed, token, ""), true},
		{"header", post(seed, "", token), true},
		{"no cookie", post("", token, ""), false},
		{"no token", post(seed, "", ""), false},
		{"another seed", post(strings.Repeat("A", len(seed)), token, ""), false},
		{"short seed", post("abc", token, ""), false},
		{"another key's token", post(seed, other, ""), false},
	} {
		if got := c.Check(tc.r); got != tc.ok {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.ok)
		}
	}
}
