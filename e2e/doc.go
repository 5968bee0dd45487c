// Package e2e holds Tessera's end-to-end tests: the whole server, started
// as in production (testkit.NewServer), driven by a real headless Chromium
// through chromedp, with a real SMTP server on the other side of mail.
//
// It owns no production code: everything is in _test.go files. The browser
// suite needs Debian's chromium on PATH; it is skipped locally without it
// and fails on CI (CI set), where .ci/run installs it. Each test saves a
// screenshot of every page it visits in $TESSERA_ARTIFACTS, or else in
// e2e/artifacts/ (ignored by git).
//
// It must not reach into the server's internals beyond fixtures (users,
// applications, policies) and what a user would see: pages and mail.
package e2e
