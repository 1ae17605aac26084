package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"

	"seatmanager/booking"
	"seatmanager/idempotency"
)

// TestErrorsMapByKind: a domain error is answered by its kind however it
// reached the handler: bare, wrapped with %w, or as a *booking.Error.
func TestErrorsMapByKind(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	seat := booking.NewID()
	for name, tc := range map[string]struct {
		err        error
		status     int
		slug       string
		retryAfter bool
	}{
		"bare not found":          {booking.ErrNotFound, 404, "not-found", false},
		"wrapped not found":       {fmt.Errorf("read seat map: %w", booking.ErrNotFound), 404, "not-found", false},
		"bare seats unavailable":  {booking.ErrSeatUnavailable, 409, "seats-unavailable", false},
		"wrapped seats error":     {fmt.Errorf("hold: %w", booking.SeatsUnavailable([]string{seat})), 409, "seats-unavailable", false},
		"hold expired":            {booking.HoldExpired([]string{seat}), 410, "hold-expired", false},
		"invalid":                 {booking.Invalidf("bad"), 400, "invalid-request", false},
		"database unavailable":    {fmt.Errorf("hold seats: %w: dial tcp: refused", booking.ErrUnavailable), 503, "unavailable", true},
		"deadline passed":         {fmt.Errorf("hold seats: %w", context.DeadlineExceeded), 503, "timeout", true},
		"answer not recorded":     {idempotency.ErrNotRecorded, 503, "not-recorded", true},
		"key in use":              {&idempotency.InUseError{}, 409, "idempotency-key-in-use", true},
		"anything else":           {errors.New("boom"), 500, "internal", false},
		"a domain error of a bug": {fmt.Errorf("decode: %w", errors.New("unexpected")), 500, "internal", false},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.writeError(rec, httptest.NewRequest("POST", "/api/seats/hold-bulk", nil), tc.err)
			var body problemBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || body.Type != "/problems/"+tc.slug || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("got %d %s (%s), want %d /problems/%s", rec.Code, body.Type, rec.Header().Get("Content-Type"), tc.status, tc.slug)
			}
			if got := rec.Header().Get("Retry-After") != ""; got != tc.retryAfter {
				t.Errorf("Retry-After set: got %v, want %v", got, tc.retryAfter)
			}
			if tc.slug == "seats-unavailable" && name == "wrapped seats error" && (len(body.ConflictingSeatIDs) != 1 || body.ConflictingSeatIDs[0] != seat) {
				t.Errorf("conflictingSeatIds: got %v, want [%s]", body.ConflictingSeatIDs, seat)
			}
		})
	}
}
