package metrics

import (
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
