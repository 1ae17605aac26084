// Package k6 keeps hold_and_book.js, the storm for k6 users, passing against
// seatd's embedded default without k6 (AGPL, which the workplace forbids): its
// tests run the script's own text on a small k6-compatible runtime built on
// goja, with one goja.Runtime per VU, and judge the run by the script's own
// thresholds and by the seat map.
//
// The shim covers what the script uses and refuses the rest loudly: an import,
// export, option, threshold, request parameter or JSON selector it does not
// know fails the test rather than being ignored.
package k6

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// script is the k6 script under test, beside this file.
const script = "hold_and_book.js"

// The storm the issue asks for: 500 buyers, 10 seats.
const (
	stormVUs   = 500
	stormSeats = 10
)

func TestHoldAndBook(t *testing.T) {
	// One seatd (one build) for both runs: the storm first, on a fresh database.
	url := startSeatd(t)
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)

	t.Run("storm", func(t *testing.T) { storm(t, url, src) })

	// The run above must be able to fail: the same script with the hold
	// posted to a path seatd does not have fails its thresholds.
	t.Run("a wrong path fails its thresholds", func(t *testing.T) {
		const path, wrong = `'/api/seats/hold-bulk'`, `'/api/seats/hold-bulk-nowhere'`
		if !strings.Contains(src, path) {
			t.Fatalf("%s no longer holds at %s; update this test to break what it holds at", script, path)
		}
		broken := strings.Replace(src, path, wrong, 1)
		res, err := runScript(t.Context(), script, broken, map[string]string{
			"BASE_URL": url, "SEATS": strconv.Itoa(stormSeats), "VUS": "5", "SESSION_WINDOW": "0",
		})
		if err != nil {
			t.Fatalf("run %s: %v", script, err)
		}
		for _, err := range res.errs {
			t.Errorf("%s: %v", script, err)
		}
		failed := map[string]bool{}
		for _, th := range res.thresholds {
			if th.err != nil {
				t.Errorf("threshold %s: %v", th.key, th.err)
			}
			if !th.ok {
				failed[th.key+" "+th.expr] = true
			}
		}
		for _, want := range []string{"checks rate==1", "http_req_failed rate==0"} {
			if !failed[want] {
				t.Errorf("threshold %s held with holds posted to %s, want it to fail (failed: %v)", want, wrong, slices.Sorted(maps.Keys(failed)))
			}
		}
		reqs := res.metrics.by("http_reqs", "name", "status")
		refused := 0.0
		for k, n := range reqs {
			if strings.HasPrefix(k, "hold ") && k != "hold 200" && k != "hold 409" {
				refused += n
			}
		}
		t.Logf("holds posted to %s: %v; failed thresholds: %v", wrong, reqs, slices.Sorted(maps.Keys(failed)))
		if refused != 5 {
			t.Errorf("holds answered neither 200 nor 409: %g, want all 5", refused)
		}
	})
}

// storm runs src as the storm against seatd at url and fails t on
// any error of the run, any threshold that does not hold, or a seat map that
// disagrees with the sales.
func storm(t *testing.T, url, src string) {
	start := time.Now()
	res, err := runScript(t.Context(), script, src, map[string]string{
		"BASE_URL": url, "SEATS": strconv.Itoa(stormSeats), "VUS": strconv.Itoa(stormVUs),
	})
	if err != nil {
		t.Fatalf("run %s: %v", script, err)
	}
	logRun(t, res, time.Since(start))
	for _, err := range res.errs {
		t.Errorf("%s: %v", script, err)
	}
	if res.setupData == "" {
		t.Fatalf("%s: setup gave no data (the seats it chose), so the run stopped before its buyers", script)
	}
	if len(res.thresholds) == 0 {
		t.Errorf("%s has no thresholds, want its oversell thresholds", script)
	}
	for _, th := range res.thresholds {
		switch {
		case th.err != nil:
			t.Errorf("threshold %s: %v", th.key, th.err)
		case !th.ok:
			t.Errorf("threshold %s %s: got %g, want it to hold", th.key, th.expr, th.got)
		}
	}
	vus := 0
	for _, s := range res.options.scenarios {
		vus += s.vus * s.iterations
	}
	if vus != stormVUs {
		t.Errorf("the script's scenarios run %d iterations, want %d buyers", vus, stormVUs)
	}
	checkSeats(t, url, res, stormSeats)
}

// checkSeats checks, with seatd's API rather than the script's word, the
// seats setup chose: each sold (seat_sales{seat:i}) seat is booked and each
// unsold one is not, so that the booked seats are exactly the sold ones, at
// most one sale each, and at most seats of them.
func checkSeats(t *testing.T, url string, res *result, seats int) {
	t.Helper()
	var data struct {
		ShowID string   `json:"showId"`
		Seats  []string `json:"seats"`
	}
	if err := json.Unmarshal([]byte(res.setupData), &data); err != nil {
		t.Fatalf("setup's data %q: %v", res.setupData, err)
	}
	if len(data.Seats) != seats || len(slices.Compact(slices.Sorted(slices.Values(data.Seats)))) != seats {
		t.Fatalf("setup chose seats %v, want %d distinct ones", data.Seats, seats)
	}
	resp, err := http.Get(url + "/api/seats/" + data.ShowID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var seatMap struct {
		Seats []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"seats"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/seats/%s: %s, want 200", data.ShowID, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&seatMap); err != nil {
		t.Fatalf("GET /api/seats/%s: %v", data.ShowID, err)
	}
	status := map[string]string{}
	for _, s := range seatMap.Seats {
		status[s.ID] = s.Status
	}
	sales := res.metrics.by("seat_sales", "seat")
	booked, sold := 0, 0.0
	statuses := map[string]int{}
	for i, id := range data.Seats {
		statuses[status[id]]++
		n := sales[strconv.Itoa(i)]
		sold += n
		isBooked := status[id] == "booked"
		if isBooked {
			booked++
		}
		if n > 1 || (n == 1) != isBooked {
			t.Errorf("seat %d (%s): sold %g times, seat map says %q; want sold once if booked, else never", i, id, n, status[id])
		}
	}
	if total, _ := res.metrics.get("seat_sales", nil); total.sum != sold {
		t.Errorf("seat_sales counts %g sales, %g of them of the chosen seats; want all of them", total.sum, sold)
	}
	t.Logf("seat map of show %s: of the %d chosen seats %v; %d booked, seat_sales %g", data.ShowID, seats, statuses, booked, sold)
	switch {
	case float64(booked) != sold:
		t.Errorf("%d of the chosen seats booked, seat_sales %g; want as many booked as sold", booked, sold)
	case booked > seats:
		t.Errorf("%d seats booked, want at most %d", booked, seats)
	case booked == 0:
		t.Errorf("no seat sold to %d buyers: the storm proved nothing", stormVUs)
	}
}

// logRun logs the run's figures: requests by name and status, checks passed
// and failed, the script's counters, the thresholds, and the phases' times.
func logRun(t *testing.T, res *result, took time.Duration) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %v (init %v, setup %v, scenarios %v, teardown %v)\n", script, took.Round(time.Millisecond),
		res.timings["init"].Round(time.Millisecond), res.timings["setup"].Round(time.Millisecond),
		res.timings["scenarios"].Round(time.Millisecond), res.timings["teardown"].Round(time.Millisecond))
	for _, s := range res.options.scenarios {
		fmt.Fprintf(&b, "scenario %s: %d VUs × %d iterations, maxDuration %v\n", s.name, s.vus, s.iterations, s.maxDuration)
	}
	reqs := res.metrics.by("http_reqs", "name", "status")
	b.WriteString("requests by name and status:")
	for _, k := range slices.Sorted(maps.Keys(reqs)) {
		fmt.Fprintf(&b, " %s=%g", k, reqs[k])
	}
	failed, _ := res.metrics.get("http_req_failed", nil)
	fmt.Fprintf(&b, "\nhttp_req_failed: %d of %d\n", failed.nonzero, failed.count)
	for _, name := range []string{"session", "hold", "book"} {
		if d, _ := res.metrics.get("http_req_duration", map[string]string{"name": name}); len(d.values) > 0 {
			fmt.Fprintf(&b, "%s: p50 %.1fms p95 %.1fms max %.1fms\n", name,
				percentile(d.values, 50), percentile(d.values, 95), percentile(d.values, 100))
		}
	}
	checks := res.metrics.by("checks", "check")
	all, _ := res.metrics.get("checks", nil)
	fmt.Fprintf(&b, "checks: %d passed, %d failed\n", all.nonzero, all.count-all.nonzero)
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		c, _ := res.metrics.get("checks", map[string]string{"check": name})
		fmt.Fprintf(&b, "  %q: %d passed, %d failed\n", name, c.nonzero, c.count-c.nonzero)
	}
	for _, name := range slices.Sorted(maps.Keys(res.metrics.metrics)) {
		if _, ok := builtin[name]; ok || res.metrics.metrics[name].kind != counter {
			continue
		}
		total, _ := res.metrics.get(name, nil)
		fmt.Fprintf(&b, "%s: %g", name, total.sum)
		if name == "seat_sales" {
			per := res.metrics.by(name, "seat")
			b.WriteString(" by seat:")
			for _, k := range slices.SortedFunc(maps.Keys(per), func(a, b string) int { return cmpNumeric(a, b) }) {
				fmt.Fprintf(&b, " %s=%g", k, per[k])
			}
		}
		b.WriteString("\n")
	}
	for _, th := range res.thresholds {
		verdict := "ok"
		switch {
		case th.err != nil:
			verdict = th.err.Error()
		case !th.ok:
			verdict = "FAILED"
		}
		fmt.Fprintf(&b, "threshold %s %s: %g %s\n", th.key, th.expr, th.got, verdict)
	}
	res.console.mu.Lock()
	for _, l := range res.console.lines {
		b.WriteString(l + "\n")
	}
	if res.console.more > 0 {
		fmt.Fprintf(&b, "(%d more console lines)\n", res.console.more)
	}
	res.console.mu.Unlock()
	t.Log(b.String())
}

func cmpNumeric(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return x - y
}
