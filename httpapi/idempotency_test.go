package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/httpapi"
	"seatmanager/idempotency"
	"seatmanager/memory"
)

// postKey sends a POST with the given Idempotency-Key (none if key is empty).
func (e *env) postKey(t *testing.T, path, key string, body any) response {
	t.Helper()
	if key == "" {
		return e.do(t, http.MethodPost, path, body)
	}
	return e.do(t, http.MethodPost, path, body, "Idempotency-Key", key)
}

func wantReplay(t *testing.T, first, again response) {
	t.Helper()
	if again.status != first.status || !bytes.Equal(again.body, first.body) {
		t.Fatalf("replay: got %d %s, want %d %s", again.status, again.body, first.status, first.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Error("replay lacks Idempotent-Replayed: true")
	}
	if again.header.Get("Content-Type") != first.header.Get("Content-Type") {
		t.Errorf("replay Content-Type %q, want %q", again.header.Get("Content-Type"), first.header.Get("Content-Type"))
	}
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Error("the first answer is marked as a replay")
	}
}

// TestIdempotency runs every rule of Idempotency-Key on each engine.
func TestIdempotency(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Run("KeyRequired", func(t *testing.T) { testKeyRequired(t, newEnvOn(t, engine, booking.Config{})) })
			t.Run("ReplayOnce", func(t *testing.T) { testReplayOnce(t, newEnvOn(t, engine, booking.Config{})) })
			t.Run("ScopedByCallerAndRoute", func(t *testing.T) { testScoped(t, newEnvOn(t, engine, booking.Config{})) })
			t.Run("OtherPayload422", func(t *testing.T) { testOtherPayload(t, newEnvOn(t, engine, booking.Config{})) })
			t.Run("ConflictReplayed", func(t *testing.T) { testConflictReplayed(t, newEnvOn(t, engine, booking.Config{})) })
			t.Run("RejectedStoresNothing", func(t *testing.T) { testRejectedStoresNothing(t, newEnvOn(t, engine, booking.Config{})) })
			t.Run("ConcurrentSameKey", func(t *testing.T) { testConcurrentSameKey(t, newEnvOn(t, engine, booking.Config{})) })
		})
	}
}

func testKeyRequired(t *testing.T, e *env) {
	body := map[string]any{"seatIds": e.seats[:1], "userId": "alice"}
	for _, path := range []string{"/api/seats/hold-bulk", "/api/seats/book-bulk", "/api/seats/release-bulk"} {
		wantProblem(t, e.postKey(t, path, "", body), http.StatusBadRequest, "idempotency-key-missing")
		for _, bad := range []string{strings.Repeat("k", 256), "a b", `"unterminated`, "ключ"} {
			wantProblem(t, e.postKey(t, path, bad, body), http.StatusBadRequest, "idempotency-key-invalid")
		}
	}
	// Two Idempotency-Key headers are one too many.
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/api/seats/hold-bulk", strings.NewReader(`{"seatIds":["`+e.seats[0]+`"],"userId":"alice"}`))
	req.Header.Add("Idempotency-Key", "a")
	req.Header.Add("Idempotency-Key", "b")
	authorize(t, req, []byte(`{"userId":"alice"}`))
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("two keys: got %d, want 400", rec.Code)
	}
	if seq, _ := e.seatStatuses(t); seq != 0 {
		t.Errorf("requests without a valid key changed seats: seq %v", seq)
	}
	// The quoted form names the same key as the bare one.
	first := e.postKey(t, "/api/seats/hold-bulk", "k-1", body)
	wantStatus(t, first, http.StatusOK)
	wantReplay(t, first, e.postKey(t, "/api/seats/hold-bulk", `"k-1"`, body))
}

func testReplayOnce(t *testing.T, e *env) {
	hold := map[string]any{"seatIds": e.seats[:2], "userId": "alice"}
	first := e.postKey(t, "/api/seats/hold-bulk", "hold-1", hold)
	wantStatus(t, first, http.StatusOK)
	// The same request, spaced and ordered differently, is the same request.
	respaced := `{ "userId" : "alice", "seatIds": ["` + e.seats[0] + `", "` + e.seats[1] + `"] }`
	wantReplay(t, first, e.postKey(t, "/api/seats/hold-bulk", "hold-1", respaced))
	wantReplay(t, first, e.postKey(t, "/api/seats/hold-bulk", "hold-1", hold))
	if seq, _ := e.seatStatuses(t); seq != 2 {
		t.Errorf("got seq %v after a hold and two replays, want 2", seq)
	}
	token := first.json(t)["holdToken"]
	book := map[string]any{"seatIds": e.seats[:2], "userId": "alice", "holdToken": token}
	bookFirst := e.postKey(t, "/api/seats/book-bulk", "book-1", book)
	wantStatus(t, bookFirst, http.StatusOK)
	wantReplay(t, bookFirst, e.postKey(t, "/api/seats/book-bulk", "book-1", book))
	if seq, _ := e.seatStatuses(t); seq != 4 {
		t.Errorf("got seq %v after one booking of 2 seats and a replay, want 4", seq)
	}
	// And the hold's replay still says what it said, though the seats are sold.
	wantReplay(t, first, e.postKey(t, "/api/seats/hold-bulk", "hold-1", hold))
}

func testScoped(t *testing.T, e *env) {
	a := e.postKey(t, "/api/seats/hold-bulk", "shared", map[string]any{"seatIds": e.seats[:1], "userId": "alice"})
	wantStatus(t, a, http.StatusOK)
	b := e.postKey(t, "/api/seats/hold-bulk", "shared", map[string]any{"seatIds": e.seats[1:2], "userId": "bob"})
	wantStatus(t, b, http.StatusOK)
	if b.header.Get("Idempotent-Replayed") != "" || bytes.Equal(a.body, b.body) {
		t.Error("bob's request with alice's key got alice's answer")
	}
	// The same key on another route is another key.
	r := e.postKey(t, "/api/seats/release-bulk", "shared", map[string]any{"seatIds": e.seats[:1], "userId": "alice"})
	wantStatus(t, r, http.StatusOK)
	wantSeats(t, e, "available", e.seats[0])
	wantSeats(t, e, "held", e.seats[1])
}

func testOtherPayload(t *testing.T, e *env) {
	wantStatus(t, e.postKey(t, "/api/seats/hold-bulk", "k", map[string]any{"seatIds": e.seats[:1], "userId": "alice"}), http.StatusOK)
	p := wantProblem(t, e.postKey(t, "/api/seats/hold-bulk", "k", map[string]any{"seatIds": e.seats[1:2], "userId": "alice"}), http.StatusUnprocessableEntity, "idempotency-key-reused")
	if p["detail"] == "" {
		t.Error("422 without a detail")
	}
	wantSeats(t, e, "available", e.seats[1])
}

func testConflictReplayed(t *testing.T, e *env) {
	wantStatus(t, e.postKey(t, "/api/seats/hold-bulk", "a1", map[string]any{"seatIds": e.seats[:1], "userId": "alice"}), http.StatusOK)
	bobs := map[string]any{"seatIds": e.seats[:2], "userId": "bob"}
	first := e.postKey(t, "/api/seats/hold-bulk", "b1", bobs)
	wantProblem(t, first, http.StatusConflict, "seats-unavailable")
	// Alice lets go; bob's retry still gets the answer his request got.
	wantStatus(t, e.postKey(t, "/api/seats/release-bulk", "a2", map[string]any{"seatIds": e.seats[:1], "userId": "alice"}), http.StatusOK)
	wantReplay(t, first, e.postKey(t, "/api/seats/hold-bulk", "b1", bobs))
	wantSeats(t, e, "available", e.seats[:2]...)
}

func testRejectedStoresNothing(t *testing.T, e *env) {
	wantProblem(t, e.postKey(t, "/api/seats/hold-bulk", "k", map[string]any{"seatIds": []string{"nope"}, "userId": "alice"}), http.StatusBadRequest, "invalid-request")
	wantProblem(t, e.do(t, http.MethodPost, "/api/seats/hold-bulk", `{"seatIds": [`, "Idempotency-Key", "k", "Authorization", "Bearer "+tokenOf(t, "alice")),
		http.StatusBadRequest, "invalid-json")
	wantProblem(t, e.postKey(t, "/api/seats/hold-bulk", "k", map[string]any{"seatIds": []string{booking.NewID()}, "userId": "alice"}), http.StatusNotFound, "not-found")
	// The key was never spent: a valid request with it runs.
	r := e.postKey(t, "/api/seats/hold-bulk", "k", map[string]any{"seatIds": e.seats[:1], "userId": "alice"})
	wantStatus(t, r, http.StatusOK)
	if r.header.Get("Idempotent-Replayed") != "" {
		t.Error("the first valid request was answered as a replay")
	}
}

// testConcurrentSameKey sends 50 identical requests with one key at once: one
// effect, and every answer is either the stored one or "still in progress".
func testConcurrentSameKey(t *testing.T, e *env) {
	srv := httptest.NewServer(e.handler)
	defer srv.Close()
	body := fmt.Sprintf(`{"seatIds":["%s","%s","%s"],"userId":"alice"}`, e.seats[0], e.seats[1], e.seats[2])
	const n = 50
	type answer struct {
		status int
		body   []byte
		retry  string
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/seats/hold-bulk", strings.NewReader(body))
			req.Header.Set("Idempotency-Key", "same")
			authorize(t, req, []byte(body))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers[i] = answer{resp.StatusCode, b, resp.Header.Get("Retry-After")}
		})
	}
	close(start)
	wg.Wait()
	var stored []byte
	for i, a := range answers {
		switch a.status {
		case http.StatusOK:
			if stored == nil {
				stored = a.body
			} else if !bytes.Equal(stored, a.body) {
				t.Errorf("answer %d: got %s, want the one stored answer %s", i, a.body, stored)
			}
		case http.StatusConflict:
			if !bytes.Contains(a.body, []byte("/problems/idempotency-key-in-use")) || a.retry == "" {
				t.Errorf("answer %d: got 409 %s (Retry-After %q), want in-use with Retry-After", i, a.body, a.retry)
			}
		default:
			t.Errorf("answer %d: got %d %s, want 200 or 409 in use", i, a.status, a.body)
		}
	}
	if stored == nil {
		t.Fatal("no request got the answer")
	}
	if seq, st := e.seatStatuses(t); seq != 3 || st[e.seats[0]] != "held" {
		t.Errorf("got seq %v, want 3: one hold of three seats", seq)
	}
	// Afterwards the key answers with the stored body.
	again := e.postKey(t, "/api/seats/hold-bulk", "same", body)
	if again.status != http.StatusOK || !bytes.Equal(again.body, stored) {
		t.Errorf("after the race: got %d %s, want the stored answer", again.status, again.body)
	}
}

// downMarkers are markers whose Redis is gone.
type downMarkers struct{}

func (downMarkers) Claim(context.Context, string, string, string, time.Duration) (idempotency.Mark, error) {
	return idempotency.Mark{}, errors.New("redis down")
}
func (downMarkers) Complete(context.Context, string, string, string, []byte, time.Duration) error {
	return errors.New("redis down")
}
func (downMarkers) Record(context.Context, string, string, string, []byte, time.Duration) (idempotency.Mark, error) {
	return idempotency.Mark{}, errors.New("redis down")
}
func (downMarkers) Abandon(context.Context, string, string) error { return errors.New("redis down") }

// TestIdempotencyWithoutMarkers: with the markers gone, duplicates of a key run
// at once; the receipts still let exactly one answer stand, and every client
// hears that one.
func TestIdempotencyWithoutMarkers(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvOn(t, engine, booking.Config{})
			svc := booking.NewService(e.store, memory.NewGate(), nil, booking.Config{})
			e.handler = runServer(t, httpapi.NewServer(svc, httpapi.Config{
				Ready: e.store.Ping, Receipts: e.store, Markers: downMarkers{}, Logger: slog.New(slog.DiscardHandler), Auth: testVerifier,
			}))
			srv := httptest.NewServer(e.handler)
			defer srv.Close()
			body := fmt.Sprintf(`{"seatIds":["%s","%s"],"userId":"alice"}`, e.seats[0], e.seats[1])
			answers := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 50 {
				wg.Go(func() {
					<-start
					req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/seats/hold-bulk", strings.NewReader(body))
					req.Header.Set("Idempotency-Key", "same")
					authorize(t, req, []byte(body))
					resp, err := srv.Client().Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					mu.Lock()
					answers[fmt.Sprintf("%d %s", resp.StatusCode, b)]++
					mu.Unlock()
				})
			}
			close(start)
			wg.Wait()
			if len(answers) != 1 {
				t.Errorf("one key, %d different answers: %v", len(answers), answers)
			}
			again := e.postKey(t, "/api/seats/hold-bulk", "same", body)
			for a := range answers {
				if a != fmt.Sprintf("%d %s", again.status, again.body) {
					t.Errorf("retry got %d %s, want %s", again.status, again.body, a)
				}
			}
			if seq, _ := e.seatStatuses(t); seq > 2 {
				t.Errorf("got seq %v, want at most one hold of two seats", seq)
			}
		})
	}
}

// TestKeyCoversPath: a key used to extend one hold cannot be reused to extend
// another; the path is part of what the key stands for.
func TestKeyCoversPath(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvOn(t, engine, booking.Config{HoldTTL: time.Minute, MaxExtensions: 2})
			a := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "alice"}).json(t)["holdToken"].(string)
			b := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[1:2], "userId": "alice"}).json(t)["holdToken"].(string)
			body := map[string]any{"userId": "alice"}
			wantStatus(t, e.postKey(t, "/api/holds/"+a+"/extend", "ext", body), http.StatusOK)
			wantProblem(t, e.postKey(t, "/api/holds/"+b+"/extend", "ext", body), http.StatusUnprocessableEntity, "idempotency-key-reused")
		})
	}
}

// TestRetryAfterMarkersForget: when the markers no longer know a key (a
// restart, or their cache lapsed), a retry still gets the first answer, even
// though running the request again would now answer something else.
func TestRetryAfterMarkersForget(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvOn(t, engine, booking.Config{HoldTTL: time.Minute, MaxExtensions: 2})
			token := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "alice"}).json(t)["holdToken"].(string)
			ext := map[string]any{"userId": "alice"}
			first := e.postKey(t, "/api/holds/"+token+"/extend", "x1", ext)
			wantStatus(t, first, http.StatusOK)
			wantStatus(t, e.post(t, "/api/seats/book-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "alice", "holdToken": token}), http.StatusOK)
			svc := booking.NewService(e.store, memory.NewGate(), nil, booking.Config{HoldTTL: time.Minute, MaxExtensions: 2})
			e.handler = runServer(t, httpapi.NewServer(svc, httpapi.Config{Ready: e.store.Ping, Receipts: e.store, Markers: memory.NewMarkers(0), Auth: testVerifier}))
			wantReplay(t, first, e.postKey(t, "/api/holds/"+token+"/extend", "x1", ext))
		})
	}
}

// TestHoldExpiredReplayed: a 410 is an outcome, replayed like any other.
func TestHoldExpiredReplayed(t *testing.T) {
	e := newEnv(t, booking.Config{HoldTTL: 20 * time.Millisecond})
	token := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "alice"}).json(t)["holdToken"]
	e.awaitLapse(t, e.seats[0])
	book := map[string]any{"seatIds": e.seats[:1], "userId": "alice", "holdToken": token}
	first := e.postKey(t, "/api/seats/book-bulk", "late", book)
	wantProblem(t, first, http.StatusGone, "hold-expired")
	wantReplay(t, first, e.postKey(t, "/api/seats/book-bulk", "late", book))
}
