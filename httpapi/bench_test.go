package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"seatmanager/booking"
)

// BenchmarkHTTP measures the handlers in process (no network) on SQLite with
// the in-process gate. Hello is a bare JSON POST handler: the floor the others
// are read against.
func BenchmarkHTTP(b *testing.B) {
	b.Run("Hello", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var v map[string]any
			json.NewDecoder(r.Body).Decode(&v)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"hello":"world"}`))
		})
		for b.Loop() {
			serve(b, h, http.MethodPost, "/", []byte(`{"seatIds":[],"userId":"bench"}`), "")
		}
	})
	e := newBenchEnv(b)
	b.Run("SeatMap", func(b *testing.B) {
		for b.Loop() {
			serve(b, e.handler, http.MethodGet, "/api/seats/"+e.show.ID, nil, "")
		}
	})
	b.Run("HoldRelease4", func(b *testing.B) {
		i := 0
		for b.Loop() {
			seats := e.seats[4*(i%3) : 4*(i%3)+4]
			i++
			body, _ := json.Marshal(map[string]any{"seatIds": seats, "userId": "bench"})
			rec := serve(b, e.handler, http.MethodPost, "/api/seats/hold-bulk", body, booking.NewID())
			var h struct{ HoldToken string }
			json.Unmarshal(rec.Body.Bytes(), &h)
			body, _ = json.Marshal(map[string]any{"seatIds": seats, "userId": "bench", "holdToken": h.HoldToken})
			serve(b, e.handler, http.MethodPost, "/api/seats/release-bulk", body, booking.NewID())
		}
	})
	b.Run("HoldRefusedAtGate", func(b *testing.B) {
		body, _ := json.Marshal(map[string]any{"seatIds": e.seats[:1], "userId": "holder"})
		serve(b, e.handler, http.MethodPost, "/api/seats/hold-bulk", body, booking.NewID())
		body, _ = json.Marshal(map[string]any{"seatIds": e.seats[:1], "userId": "loser"})
		for b.Loop() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/api/seats/hold-bulk", bytes.NewReader(body))
			req.Header.Set("Idempotency-Key", booking.NewID())
			authorize(b, req, body)
			e.handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusConflict {
				b.Fatalf("got %d, want 409", rec.Code)
			}
		}
	})
}

func newBenchEnv(b *testing.B) *env {
	b.Helper()
	return newEnvTB(b, "sqlite", booking.Config{})
}

func serve(b *testing.B, h http.Handler, method, path string, body []byte, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	authorize(b, req, body) // the bench users prove who they are, as clients do
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s %s: got %d %s", method, path, rec.Code, rec.Body)
	}
	return rec
}
