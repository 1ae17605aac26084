package idempotency_test

// What the handler of a keyed request sees of it: its deadline and its body.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"seatmanager/idempotency"
	"seatmanager/memory"
)

// TestTimeoutBoundsRequest: a request without a deadline of its own, keyed or
// not attributable, runs until its Timeout if that comes before its lease's
// end, and until the lease's end if not.
func TestTimeoutBoundsRequest(t *testing.T) {
	for _, tt := range []struct {
		name           string
		user           string
		lease, timeout time.Duration
		want           time.Duration
	}{
		{"keyed, timeout first", "alice", time.Minute, time.Second, time.Second},
		{"keyed, lease first", "alice", time.Second, time.Minute, time.Second},
		{"not attributable", "", time.Minute, time.Second, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var left time.Duration
			h := newHarnessWith(t, func(w http.ResponseWriter, r *http.Request) {
				d, ok := r.Context().Deadline()
				if !ok {
					t.Error("handler's context has no deadline")
				}
				left = time.Until(d)
				w.WriteHeader(http.StatusBadRequest)
			}, tt.lease, memory.NewMarkers(0), func(c *idempotency.Config) {
				c.Timeout = func(*http.Request) time.Duration { return tt.timeout }
			})
			start := time.Now()
			h.post("k1", tt.user, `{}`)
			// The deadline is set after the call starts: it is at most want
			// from then, and no less than want from when the handler ran.
			if left > tt.want || left < tt.want-time.Since(start) {
				t.Errorf("deadline %v after the handler ran, want %v", left, tt.want)
			}
		})
	}
}

// TestBodyAsRead: a keyed request's handler gets the body the middleware read
// from Body, and can still read it from the request; outside the middleware,
// Body has none.
func TestBodyAsRead(t *testing.T) {
	const sent = `{"seatIds":["a"]}`
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		body, ok := idempotency.Body(r)
		again, err := io.ReadAll(r.Body)
		if !ok || string(body) != sent || err != nil || string(again) != sent {
			t.Errorf("Body = %q, %v; the request's body reads %q, %v; want %q both", body, ok, again, err, sent)
		}
		w.WriteHeader(http.StatusBadRequest)
	}, time.Minute)
	h.post("k1", "alice", sent)
	if h.runs.Load() != 1 {
		t.Fatalf("handler ran %d times, want 1", h.runs.Load())
	}
	if _, ok := idempotency.Body(httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(sent))); ok {
		t.Error("Body of a request outside the middleware reports one")
	}
}
