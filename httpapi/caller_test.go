package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/httpapi"
	"seatmanager/memory"
	"seatmanager/ratelimit"
)

// TestKeysBelongToTheTokenSubject: an Idempotency-Key is kept per caller the
// token proves, whether or not the body names it: bob's request with alice's
// key is his own, and alice's retry without userId replays her answer.
func TestKeysBelongToTheTokenSubject(t *testing.T) {
	e := newEnv(t, booking.Config{})
	alice := "Bearer " + tokenOf(t, "alice")
	first := e.do(t, http.MethodPost, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1]}, "Idempotency-Key", "k1", "Authorization", alice)
	wantStatus(t, first, http.StatusOK)
	bob := e.do(t, http.MethodPost, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[1:2]}, "Idempotency-Key", "k1", "Authorization", "Bearer "+tokenOf(t, "bob"))
	if wantStatus(t, bob, http.StatusOK); bob.header.Get("Idempotent-Replayed") != "" {
		t.Error("bob's request with alice's key was answered as her replay")
	}
	again := e.do(t, http.MethodPost, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1]}, "Idempotency-Key", "k1", "Authorization", alice)
	if again.header.Get("Idempotent-Replayed") != "true" || string(again.body) != string(first.body) {
		t.Errorf("alice's retry: got %d %s (replayed %q), want her first answer replayed", again.status, again.body, again.header.Get("Idempotent-Replayed"))
	}
}

// TestBearerHeader: the Authorization header is read as RFC 6750 says.
func TestBearerHeader(t *testing.T) {
	e := newEnv(t, booking.Config{})
	tok := tokenOf(t, "alice")
	body := map[string]any{"seatIds": e.seats[:1]}
	for _, tt := range []struct {
		name, value string
		status      int
	}{
		{"lower-case scheme", "bearer " + tok, http.StatusOK},
		{"Basic", "Basic YTpi", http.StatusUnauthorized},
		{"no token", "Bearer ", http.StatusUnauthorized},
		{"a token and more", "Bearer " + tok + " x", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodPost, "/api/seats/release-bulk", body, "Idempotency-Key", booking.NewID(), "Authorization", tt.value)
			// alice holds nothing: a proven alice hears 409.
			want := tt.status
			if want == http.StatusOK {
				want = http.StatusConflict
			}
			if r.status != want {
				t.Errorf("got %d %s, want %d", r.status, r.body, want)
			}
		})
	}
}

// fixedLimiter refuses every key in no.
type fixedLimiter struct{ no map[string]bool }

func (l fixedLimiter) Allow(_ context.Context, key string, _ ratelimit.Limit) (ratelimit.Decision, error) {
	if l.no[key] {
		return ratelimit.Decision{RetryAfter: 1500 * time.Millisecond}, nil
	}
	return ratelimit.Decision{Allowed: true}, nil
}

// TestSessionsAndLimits: POST /api/sessions gives a guest token that the API
// accepts; a refused bucket is a 429 problem whose Retry-After rounds up,
// and the refused change changed nothing.
func TestSessionsAndLimits(t *testing.T) {
	e := newEnv(t, booking.Config{})
	svc := booking.NewService(e.store, memory.NewGate(), nil, booking.Config{})
	every := ratelimit.Limit{Rate: 1, Period: time.Hour}
	e.handler = runServer(t, httpapi.NewServer(svc, httpapi.Config{
		Receipts: e.store, Markers: memory.NewMarkers(0), Auth: testVerifier, Sessions: testIssuer,
		Limiter: fixedLimiter{no: map[string]bool{"user:mallory": true}},
		Limits:  httpapi.Limits{PerUser: every, PerAddress: every, Sessions: every},
	}))
	r := e.do(t, http.MethodPost, "/api/sessions", nil)
	var sess struct{ Token, UserID string }
	if err := json.Unmarshal(r.body, &sess); r.status != http.StatusCreated || err != nil || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("POST /api/sessions: got %d %s (Cache-Control %q), want 201, no-store", r.status, r.body, r.header.Get("Cache-Control"))
	}
	wantStatus(t, e.do(t, http.MethodPost, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1], "userId": sess.UserID},
		"Idempotency-Key", "g1", "Authorization", "Bearer "+sess.Token), http.StatusOK)

	limited := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[1:2], "userId": "mallory"})
	wantProblem(t, limited, http.StatusTooManyRequests, "rate-limited")
	if got := limited.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After: got %q, want 2 (1.5 s rounded up)", got)
	}
	wantSeats(t, e, "available", e.seats[1])
}
