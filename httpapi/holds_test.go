package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"seatmanager/booking"
)

func TestHoldLookupAndExtend(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvOn(t, engine, booking.Config{HoldTTL: time.Minute, MaxExtensions: 2})
			r := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice"})
			wantStatus(t, r, http.StatusOK)
			h := r.json(t)
			token := h["holdToken"].(string)
			expires, _ := time.Parse(time.RFC3339, h["expiresAt"].(string))

			r = e.do(t, http.MethodGet, "/api/holds/"+token+"?userId=alice", nil)
			wantStatus(t, r, http.StatusOK)
			got := r.json(t)
			if got["holdToken"] != token || got["showId"] != e.show.ID || got["extensions"] != float64(0) || got["extensionsLeft"] != float64(2) {
				t.Errorf("lookup: got %v", got)
			}
			if len(seatList(t, got["seatIds"])) != 2 {
				t.Errorf("lookup: got seats %v, want 2", got["seatIds"])
			}

			// Nobody else may see or extend it; to them it does not exist.
			wantProblem(t, e.do(t, http.MethodGet, "/api/holds/"+token+"?userId=bob", nil), http.StatusNotFound, "not-found")
			wantProblem(t, e.post(t, "/api/holds/"+token+"/extend", map[string]any{"userId": "bob"}), http.StatusNotFound, "not-found")
			wantProblem(t, e.do(t, http.MethodGet, "/api/holds/"+token, nil), http.StatusUnauthorized, "unauthenticated")
			wantProblem(t, e.do(t, http.MethodGet, "/api/holds/nope?userId=alice", nil), http.StatusBadRequest, "invalid-request")
			wantProblem(t, e.do(t, http.MethodGet, "/api/holds/"+booking.NewID()+"?userId=alice", nil), http.StatusNotFound, "not-found")

			// Extensions: one TTL each, twice; a retry of one is not another.
			first := e.postKey(t, "/api/holds/"+token+"/extend", "ext-1", map[string]any{"userId": "alice"})
			wantStatus(t, first, http.StatusOK)
			wantReplay(t, first, e.postKey(t, "/api/holds/"+token+"/extend", "ext-1", map[string]any{"userId": "alice"}))
			x := first.json(t)
			newExpiry, _ := time.Parse(time.RFC3339, x["expiresAt"].(string))
			if d := newExpiry.Sub(expires); d != time.Minute || x["extensions"] != float64(1) || x["extensionsLeft"] != float64(1) {
				t.Errorf("first extension: moved expiry by %v, got %v; want 1m, 1 extension, 1 left", d, x)
			}
			wantStatus(t, e.post(t, "/api/holds/"+token+"/extend", map[string]any{"userId": "alice"}), http.StatusOK)
			p := wantProblem(t, e.post(t, "/api/holds/"+token+"/extend", map[string]any{"userId": "alice"}), http.StatusConflict, "limit-reached")
			if p["detail"] == "" {
				t.Error("limit-reached without detail")
			}
			r = e.do(t, http.MethodGet, "/api/holds/"+token+"?userId=alice", nil)
			if got := r.json(t); got["extensions"] != float64(2) || got["extensionsLeft"] != float64(0) {
				t.Errorf("after two extensions: got %v", got)
			}

			// Once its seats are booked, the hold is gone.
			wantStatus(t, e.post(t, "/api/seats/book-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice", "holdToken": token}), http.StatusOK)
			wantProblem(t, e.do(t, http.MethodGet, "/api/holds/"+token+"?userId=alice", nil), http.StatusNotFound, "not-found")
			wantProblem(t, e.post(t, "/api/holds/"+token+"/extend", map[string]any{"userId": "alice"}), http.StatusNotFound, "not-found")
		})
	}
}

func TestExtendAfterExpiry(t *testing.T) {
	e := newEnv(t, booking.Config{HoldTTL: 50 * time.Millisecond, MaxExtensions: 2})
	r := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "alice"})
	wantStatus(t, r, http.StatusOK)
	token := r.json(t)["holdToken"].(string)
	e.awaitLapse(t, e.seats[0])
	wantProblem(t, e.post(t, "/api/holds/"+token+"/extend", map[string]any{"userId": "alice"}), http.StatusGone, "hold-expired")
	wantProblem(t, e.do(t, http.MethodGet, "/api/holds/"+token+"?userId=alice", nil), http.StatusNotFound, "not-found")
	wantSeats(t, e, "available", e.seats[0])
}

func TestExtensionsOff(t *testing.T) {
	e := newEnv(t, booking.Config{MaxExtensions: 0})
	r := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "alice"})
	token := r.json(t)["holdToken"].(string)
	wantProblem(t, e.post(t, "/api/holds/"+token+"/extend", map[string]any{"userId": "alice"}), http.StatusConflict, "limit-reached")
}
