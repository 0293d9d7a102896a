package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChromium is the Chromium (or Chrome) on this machine. .ci/run
// installs Debian's and sets IDSYNC_REQUIRE_CHROMIUM, so CI cannot skip
// the browser test without a word.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("IDSYNC_REQUIRE_CHROMIUM") != "" {
		t.Fatal("IDSYNC_REQUIRE_CHROMIUM is set but no chromium is on PATH (apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH: the status page is not tested in a browser (apt-get install -y chromium; .ci/run does)")
	return ""
}

// TestStatusPageInABrowser loads the status page of a daemon (the built
// binary) with a held plan in headless Chromium, checks what a person
// reads there, and saves a screenshot: docs/status-page.png with
// IDSYNC_UPDATE_SCREENSHOT=1, else a temporary file.
func TestStatusPageInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium := findChromium(t)
	update := os.Getenv("IDSYNC_UPDATE_SCREENSHOT") != ""
	rounds := 0
	if update {
		rounds = 24 // the README's picture: a chart with a history
	}
	_, d, url, id := statusDaemonAfter(t, "", rounds)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1180, 900),
		chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s in chromium (%s): %v\ndaemon:\n%s", what, url, err, d.log)
		}
	}
	fail("load the page", chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#conn-contoso svg"))))
	title, err := chromedp.Run(ctx, chromedp.Title())
	fail("read the title", err)
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	fail("read the text", err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	fail("take a screenshot", err)
	for _, want := range []string{"contoso", "HELD", "Held plan " + id, "approve contoso --plan " + id, "dave.diaz@contoso.test", "Recent runs"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page as rendered has no %q:\n%s", want, text)
		}
	}
	if title != "idsync status" {
		t.Errorf("title %q", title)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 400 {
		t.Fatalf("screenshot of %v", b)
	}
	out := filepath.Join(t.TempDir(), "status-page.png")
	if update {
		out = filepath.Join("..", "..", "docs", "status-page.png")
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
}
