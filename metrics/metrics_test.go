package metrics

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMetricsExposed(t *testing.T) {
	m := New()
	m.HoldReleased("event", 3, 40*time.Millisecond)
	m.HoldReleased("event", 1, -time.Millisecond) // clocks differ: counted as no delay
	m.ObserveRequest("POST /api/seats/hold-bulk", "POST", 409, 2*time.Millisecond)
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`seatd_lapsed_holds_released_total{path="event"} 2`,
		`seatd_lapsed_seats_released_total{path="event"} 4`,
		`seatd_hold_release_delay_seconds_count{path="event"} 2`,
		`seatd_http_request_duration_seconds_count{method="POST",route="POST /api/seats/hold-bulk",status="409"} 1`,
		`seatd_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestRequestLabelsBounded: a client choosing methods (and paths) at will
// cannot grow the number of series.
func TestRequestLabelsBounded(t *testing.T) {
	m := New()
	for i := range 2000 {
		m.ObserveRequest("", fmt.Sprintf("M%d", i), 405, time.Millisecond)
		m.ObserveRequest("GET /api/seats/{showId}", "GET", 200, time.Millisecond)
	}
	m.ObserveRequest("", "PATCH", 404, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if n := strings.Count(body, "seatd_http_request_duration_seconds_count{"); n != 3 {
		t.Errorf("got %d request series, want 3 (other/405, GET/200, PATCH/404):\n%s", n, body)
	}
	if !strings.Contains(body, `seatd_http_request_duration_seconds_count{method="other",route="unmatched",status="405"} 2000`) {
		t.Errorf("made-up methods not counted as other:\n%s", body)
	}
}
