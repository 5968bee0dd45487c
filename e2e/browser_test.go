package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// testTimeout bounds one test, browser start included.
const testTimeout = 60 * time.Second

// chromium finds the browser. Locally a missing browser skips the test
// (as does -short); on CI it fails it, so that the suite cannot pass by not
// running.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the browser suite is not short")
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not installed (CI must run the browser suite; .ci/run installs it): %v", err)
		}
		t.Skip("chromium not found on PATH; install it (apt-get install chromium) to run the browser suite")
	}
	return p
}

// artifactsDir is where screenshots go: $TESSERA_ARTIFACTS, or e2e/artifacts.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TESSERA_ARTIFACTS")
	if dir == "" {
		dir = "artifacts" // tests run in e2e/
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium with one tab, and the screenshots taken
// in it (name-NN-step.png).
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the server's public URL
	name string
	dir  string
	n    int
}

// newBrowser starts a Chromium of its own (own profile, so own cookies)
// under ctx, which bounds its life. The browser closes when the test ends.
func newBrowser(t *testing.T, ctx context.Context, base, name string) *browser {
	t.Helper()
	exe := chromium(t)
	profile := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1000, 800),
		// A closed network: no background traffic, no QUIC, no updates.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel() })
	if err := chromedp.Do(bctx); err != nil { // start it now: a failure here is the browser's
		t.Fatalf("start chromium: %v", err)
	}
	dir := artifactsDir(t)
	// Drop this browser's screenshots from an earlier run, so that the
	// directory shows this run only.
	old, _ := filepath.Glob(filepath.Join(dir, name+"-[0-9][0-9]-*.png"))
	for _, p := range old {
		_ = os.Remove(p)
	}
	return &browser{t: t, ctx: bctx, base: base, name: name, dir: dir}
}

// withoutJavaScript turns the page's own scripts off (the test's DevTools
// evaluations still run): every flow but passkeys must work without them.
func (b *browser) withoutJavaScript() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		b.t.Fatalf("disable scripts: %v", err)
	}
}

// shot saves a full-page screenshot of what the browser shows now.
func (b *browser) shot(step string) {
	b.t.Helper()
	b.n++
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", step, err)
	}
	if strings.HasPrefix(b.location(), b.base) { // Tessera's pages, not the applications'
		b.audit(step)
	}
	name := fmt.Sprintf("%s-%02d-%s.png", b.name, b.n, step)
	if err := os.WriteFile(filepath.Join(b.dir, name), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// a11yAudit lists what a page lacks for assistive technology: a language, a
// viewport for small screens, one h1, a label for every field, a text for
// every button and an alt for every image.
const a11yAudit = `(() => {
  const p = [];
  if (!document.documentElement.lang) p.push("html has no lang");
  if (!document.querySelector('meta[name=viewport]')) p.push("no viewport meta");
  if (document.querySelectorAll("h1").length !== 1) p.push("not exactly one h1");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const labelled = el.getAttribute("aria-label") || el.closest("label") ||
      (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]'));
    if (!labelled) p.push("field without a label: " + (el.name || el.id));
  }
  for (const el of document.querySelectorAll("button")) {
    if (!(el.textContent.trim() || el.getAttribute("aria-label"))) p.push("button without text");
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) p.push("image without alt: " + el.src.slice(0, 60));
  }
  return p;
})()`

// audit fails the test for every accessibility problem a11yAudit finds on
// the page the browser shows.
func (b *browser) audit(step string) {
	b.t.Helper()
	for _, p := range eval[[]string](b, a11yAudit) {
		b.t.Errorf("%s, page %q: %s", b.name, step, p)
	}
}

// open loads base+path (or an absolute URL), waits for it, and takes a
// screenshot named step.
func (b *browser) open(path, step string) *network.Response {
	b.t.Helper()
	u := path
	if !strings.Contains(path, "://") {
		u = b.base + path
	}
	res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		b.t.Fatalf("open %s: %v", u, err)
	}
	b.shot(step)
	return res
}

// submit clicks sel, which must load a page (a form's button, a link),
// waits for that page and takes a screenshot named step.
func (b *browser) submit(sel, step string) *network.Response {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	b.shot(step)
	return res
}

// click clicks sel without waiting for any page.
func (b *browser) click(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

// fill types v into the field sel, as a user would.
func (b *browser) fill(sel, v string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), v)); err != nil {
		b.t.Fatalf("type into %s: %v", sel, err)
	}
}

// text returns the visible text of the first element sel matches.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval runs a script in the page and returns its result.
func eval[T any](b *browser, script string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](script))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", script, err)
	}
	return v
}

// heading is the page's h1.
func (b *browser) heading() string { b.t.Helper(); return b.text("h1") }

// location is the URL the browser shows now.
func (b *browser) location() string {
	b.t.Helper()
	l, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("location: %v", err)
	}
	return l
}

// path is location without the server's base.
func (b *browser) path() string {
	b.t.Helper()
	return strings.TrimPrefix(b.location(), b.base)
}

// expectPage fails the test unless the page's h1 is heading and its path
// (without the query) is path.
func (b *browser) expectPage(path, heading string) {
	b.t.Helper()
	p, _, _ := strings.Cut(b.path(), "?")
	if h := b.heading(); p != path || h != heading {
		b.t.Fatalf("on %s %q, want %s %q (page says: %s)", p, h, path, heading, b.alert())
	}
}

// alert is the page's error or notice, if any.
func (b *browser) alert() string {
	b.t.Helper()
	return eval[string](b, `(document.querySelector('.alert') || {textContent: ''}).textContent.trim()`)
}

// expectAlert fails the test unless the page's error or notice is msg.
func (b *browser) expectAlert(msg string) {
	b.t.Helper()
	if got := b.alert(); got != msg {
		b.t.Fatalf("page %s says %q, want %q", b.path(), got, msg)
	}
}

// waitFor polls script (a JS expression) until it gives a non-empty string,
// and returns it. Evaluation errors while a page loads are retried.
func (b *browser) waitFor(script string) string {
	b.t.Helper()
	for {
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](script))
		if err == nil && v != "" {
			return v
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("waiting for %s: %v (last error %v)", script, b.ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// signIn goes through the identifier and password pages; it stops on the
// page the password leads to, which it checks is wantPath.
func (b *browser) signIn(login, password, wantPath string) {
	b.t.Helper()
	b.open("/t/default/login", "identifier")
	b.signInHere(login, password, wantPath)
}

// signInHere is signIn from the identifier page the browser is on.
func (b *browser) signInHere(login, password, wantPath string) {
	b.t.Helper()
	b.expectPage("/t/default/login", "Sign in")
	b.fill("#login", login)
	b.submit(identifierButton, "password")
	b.expectPage("/t/default/login", "Sign in")
	b.fill("#password", password)
	b.submit(passwordButton, "after-password")
	if p, _, _ := strings.Cut(b.path(), "?"); p != wantPath {
		b.t.Fatalf("after the password: on %s (%q, %q), want %s", p, b.heading(), b.alert(), wantPath)
	}
}

// signOut uses the header's button and checks the result.
func (b *browser) signOut() {
	b.t.Helper()
	b.submit(`form[action$="/logout"] button`, "signed-out")
	b.expectPage("/t/default/logout", "Signed out")
	// Signed-in pages now send the browser to the sign-in page.
	b.open("/t/default/", "portal-after-sign-out")
	b.expectSignInPage("/t/default/")
}

// expectSignInPage checks the browser is on the sign-in page, sent there to
// come back to ret afterwards.
func (b *browser) expectSignInPage(ret string) {
	b.t.Helper()
	want := "/t/default/login?return=" + url.QueryEscape(ret)
	if p := b.path(); p != want || b.heading() != "Sign in" {
		b.t.Fatalf("on %s %q, want the sign-in page %s", p, b.heading(), want)
	}
}

// expectPortal checks the portal shows the one tile of the fixture's
// bookmark app, linking to Tessera's launch of it.
func (b *browser) expectPortal(f *fixture) {
	b.t.Helper()
	b.expectPage("/t/default/", "Your applications")
	tiles := eval[[]string](b, `[...document.querySelectorAll('ul.tiles li.tile a')].map(a => a.querySelector('.name').textContent + ' ' + a.getAttribute('href'))`)
	want := f.appName + " /t/default/apps/" + f.appID + "/launch"
	if len(tiles) != 1 || tiles[0] != want {
		b.t.Fatalf("portal tiles %q, want [%q]", tiles, want)
	}
}

// stubSite answers the browser's requests to prefix (an outside site the
// closed network cannot reach) with a small page, and returns the URLs
// asked for. Call it once per browser.
func (b *browser) stubSite(prefix, body string) <-chan string {
	b.t.Helper()
	asked := make(chan string, 16)
	paused := chromedp.Events(b.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: prefix + "*"}}}); err != nil {
		b.t.Fatalf("intercept %s: %v", prefix, err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			select {
			case asked <- ev.Request.URL:
			default:
			}
			_, _ = chromedp.Call(b.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: 200,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}}, Body: []byte(body)})
		}
	}()
	return asked
}

// launchTile clicks the portal's tile and checks that Tessera sends the
// browser on to the application's launch URL.
func (b *browser) launchTile(f *fixture) {
	b.t.Helper()
	asked := b.stubSite("https://example.com/", `<!doctype html><title>Example app</title><h1>Example app</h1>`)
	b.submit("ul.tiles li.tile a", "app")
	select {
	case u := <-asked:
		if u != f.launchURL {
			b.t.Fatalf("the tile led to %s, want %s", u, f.launchURL)
		}
	default:
		b.t.Fatalf("the tile led to no request to the application (on %s)", b.location())
	}
	if l := b.location(); l != f.launchURL || b.heading() != "Example app" {
		b.t.Fatalf("after the tile: on %s %q, want %s", l, b.heading(), f.launchURL)
	}
}
