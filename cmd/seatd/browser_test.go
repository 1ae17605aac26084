package main

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromiumPath is Debian's Chromium, which `make test` installs.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a headless Chromium of its own, with a fresh profile and
// no network of its own beyond the page, and returns a context of it that
// ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium): %v", chromiumPath, err)
	}
	// chromedp's defaults (headless, no first run, no background networking,
	// no throttling of pages in the background: two pages share the browser)
	// and the ones a root user on a closed network needs.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// page is one browser context (its own storage, so its own guest) on seatd's page.
type page struct {
	t    *testing.T
	name string
	ctx  context.Context
}

func openPage(t *testing.T, browser context.Context, name, url string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first run makes the tab, which lives as long as that run's
	// context: so no timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	p := &page{t: t, name: name, ctx: ctx}
	p.do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(".seat")))
	// The seats come over the live socket, not the poll.
	p.await(`document.getElementById("connection").classList.contains("live")`, 5*time.Second, "the live socket to open")
	return p
}

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// await waits until the JavaScript condition holds, within d, and says how long it took.
func (p *page) await(cond string, d time.Duration, what string) time.Duration {
	p.t.Helper()
	start := time.Now()
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](cond))
		if err != nil {
			p.t.Fatalf("%s: %s: %v", p.name, cond, err)
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > d {
			// What the page last told its user says which side stopped.
			status, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.getElementById("status")?.textContent ?? ""`))
			p.t.Fatalf("%s: waited %v for %s (status line: %q)", p.name, d, what, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *page) eval(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, expr, err)
	}
	return v
}

func (p *page) key(keys string) { p.t.Helper(); p.do(chromedp.KeyEvent(keys)) }

// seatIs is the condition that every seat of ids has class state.
func seatIs(state string, ids ...string) string {
	cond := "true"
	for _, id := range ids {
		cond += fmt.Sprintf(` && document.querySelector('.seat[data-id="%s"]').classList.contains("%s")`, id, state)
	}
	return cond
}

// TestBrowserLiveSeatMap: two people in two browsers on one show. A holds,
// with the keyboard only, and B sees the seats held within a second; A
// books, B sees them booked; A cancels the booking from "My bookings", and B
// sees the seats on sale again; a hold that lapses is available again for
// both.
func TestBrowserLiveSeatMap(t *testing.T) {
	env := backendEnv(t, "sqlite+memory")
	env["SEATD_HOLD_TTL"] = "2s"
	s := startSeatd(t, env)
	_, m := newClient(t, s.url).firstShow(t)
	browser := newBrowser(t)
	a := openPage(t, browser, "A", s.url+"/#"+m.ShowID)
	b := openPage(t, browser, "B", s.url+"/#"+m.ShowID)

	// Keyboard only: Tab into the seat grid, pick two seats, Tab to Hold.
	for i := 0; a.eval(`document.activeElement.className`) == "" || a.eval(`document.activeElement.classList.contains("seat") ? "seat" : "other"`) != "seat"; i++ {
		if i == 20 {
			t.Fatal("A: 20 Tabs did not reach the seat grid")
		}
		a.key(kb.Tab)
	}
	first := a.eval(`document.activeElement.dataset.id`)
	a.key(kb.Enter)
	a.key(kb.ArrowRight)
	second := a.eval(`document.activeElement.dataset.id`)
	a.key(" ")
	a.await(seatIs("selected", first, second), time.Second, "two seats selected")
	a.key(kb.Tab)
	if got := a.eval(`document.activeElement.id`); got != "hold-btn" {
		t.Fatalf("A: Tab from the grid went to %q, want the Hold button", got)
	}
	a.key(kb.Enter)
	took := b.await(seatIs("held", first, second), time.Second, "A's seats held")
	t.Logf("B saw A's hold after %v", took)
	a.await(seatIs("mine", first, second), time.Second, "A's seats shown as A's")
	if got := a.eval(`document.activeElement.id`); got != "book-btn" {
		t.Errorf("A: after Hold the focus is on %q, want the Book button", got)
	}
	if a.eval(`document.getElementById("announce").textContent`) == "" {
		t.Error("A: the hold was not announced to screen readers")
	}

	a.key(kb.Enter) // Book
	took = b.await(seatIs("booked", first, second), time.Second, "A's seats booked")
	t.Logf("B saw A's booking after %v", took)
	a.await(`document.getElementById("status").textContent.includes("Your confirmation:")`, time.Second, "A's confirmation")
	if got := a.eval(`document.activeElement.id`); got != "status" {
		t.Errorf("A: after Book the focus is on %q, want the status line", got)
	}

	// A's booking is in "My bookings"; cancelled there, its seats are on
	// sale again on both pages.
	a.await(`document.querySelectorAll("#booking-list button.cancel").length === 1`, 2*time.Second, "A's booking listed")
	a.do(chromedp.Click(chromedp.CSS(`#booking-list button.cancel`)))
	a.await(`document.getElementById("status").textContent.startsWith("Cancelled")`, 5*time.Second, "A told of the cancellation")
	b.await(seatIs("available", first, second), 2*time.Second, "A's cancelled seats on B's page")
	a.await(`document.querySelectorAll("#booking-list button.cancel").length === 0`, 2*time.Second, "A's list without the cancelled booking")

	// A hold that lapses (2s) comes back on sale on both pages.
	third := m.Seats[20].ID
	a.do(chromedp.Click(chromedp.CSS(`.seat[data-id="`+third+`"]`)), chromedp.Click(chromedp.ID("hold-btn")))
	b.await(seatIs("held", third), time.Second, "A's second hold")
	a.await(seatIs("available", third), 5*time.Second, "the lapsed seat on A's page")
	b.await(seatIs("available", third), time.Second, "the lapsed seat on B's page")
}

// TestBrowserOnAPhone: on a 390×844 screen the seats are 24px targets or
// more, and the actions stay in view at the top of the hall.
func TestBrowserOnAPhone(t *testing.T) {
	s := startSeatd(t, backendEnv(t, "sqlite+memory"))
	_, m := newClient(t, s.url).firstShow(t)
	browser := newBrowser(t)
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	p := &page{t: t, name: "phone", ctx: ctx}
	p.do(chromedp.Navigate(s.url+"/#"+m.ShowID), chromedp.WaitVisible(chromedp.CSS(".seat")))
	w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.min(...[...document.querySelectorAll(".seat")].map((b) => b.getBoundingClientRect().width))`))
	if err != nil || w < 24 {
		t.Errorf("seats are %vpx wide on a phone (%v), want at least 24", w, err)
	}
	p.await(`(() => { const r = document.getElementById("hold-btn").getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()`,
		time.Second, "the Hold button in view")
}

// TestBrowserOffline: a server that goes away leaves the page saying so (the
// map greyed out), not a stale map.
func TestBrowserOffline(t *testing.T) {
	s := startSeatd(t, backendEnv(t, "sqlite+memory"))
	_, m := newClient(t, s.url).firstShow(t)
	p := openPage(t, newBrowser(t), "page", s.url+"/#"+m.ShowID)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	p.await(`document.getElementById("connection").classList.contains("offline") && document.getElementById("hall").classList.contains("offline")`,
		10*time.Second, "the page to say it is offline")
}
