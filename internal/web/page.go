package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// The server-rendered pages of the adapters (sign-in, protocols, console)
// share their plumbing: a nonce per response, the security headers, one
// template per page with a shared layout, and buffered writing.

// NewNonce returns a fresh CSP nonce.
func NewNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return base64.RawStdEncoding.EncodeToString(b)
}

// SetPageHeaders sets the content security policy csp and the headers
// every page gets: no framing (clickjacking), no sniffing, no referrer
// (URLs carry single-use tokens), no caching of personal pages.
func SetPageHeaders(w http.ResponseWriter, csp string) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

// ParsePages parses every templates/*.html of fsys but the layout with the
// layout templates/layout.html, once, by page name ("signin" for
// templates/signin.html).
func ParsePages(fsys fs.FS, funcs template.FuncMap) (map[string]*template.Template, error) {
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(path.Base(n)).Funcs(funcs).ParseFS(fsys, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// WritePage executes template entry of t with data and writes it with
// status. It buffers, so that a template error is returned before anything
// is written and the caller can answer a clean 500.
func WritePage(w http.ResponseWriter, t *template.Template, entry string, status int, data any) error {
	if t == nil {
		return fmt.Errorf("no template for entry %s", entry)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, entry, data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}
