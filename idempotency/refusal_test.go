package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/idempotency"
	"seatmanager/memory"
)

// refuse is a handler that answers 409, as a hold turned away at the gate;
// byOthers tells the middleware, as the booking service does, that other
// users' seats turned it away.
func refuse(byOthers bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		idem := idempotency.For(r, func(any) (idempotency.Response, error) { return idempotency.Response{}, nil })
		if byOthers {
			idem.OnGateRefusal()
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"title":"seats unavailable"}`))
	}
}

// failingComplete is markers that cannot store an answer, as Redis timing out.
type failingComplete struct{ *memory.Markers }

func (failingComplete) Complete(context.Context, string, string, string, []byte, time.Duration) error {
	return errors.New("redis: i/o timeout")
}

func (failingComplete) Record(context.Context, string, string, string, []byte, time.Duration) (idempotency.Mark, error) {
	return idempotency.Mark{}, errors.New("redis: i/o timeout")
}

// TestGateRefusalKeptByMarkers: a refusal at the gate on other users' seats
// is kept by shared markers alone, replayed from them to a retry (which the
// gate turns away again, the refusal coming before any claim), and written
// to the database only when they fail; any other refusal, and every refusal
// with markers that die with the process, is written to the database.
func TestGateRefusalKeptByMarkers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		byOthers   bool
		markers    idempotency.Markers
		shared     bool
		inDatabase bool
	}{
		{"by others", true, memory.NewMarkers(0), true, false},
		{"by others, markers failing", true, failingComplete{memory.NewMarkers(0)}, true, true},
		{"by others, markers of this process only", true, memory.NewMarkers(0), false, true},
		{"not known to be by others", false, memory.NewMarkers(0), true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, refuse(tc.byOthers), 10*time.Second, tc.markers,
				func(c *idempotency.Config) { c.SharedMarkers = tc.shared })
			h.answersFirst = true
			first := h.post("k", "alice", `{"a":1}`)
			if first.Code != http.StatusConflict || first.Body.String() != `{"title":"seats unavailable"}` {
				t.Fatalf("first: got %d %q, want the 409", first.Code, first.Body)
			}
			_, err := h.store.Receipt(t.Context(), "alice POST /do", "k")
			if stored := err == nil; stored != tc.inDatabase {
				t.Errorf("receipt in the database: got %v (%v), want %v", stored, err, tc.inDatabase)
			}
			if err != nil && !errors.Is(err, booking.ErrNotFound) {
				t.Fatal(err)
			}
			again := h.post("k", "alice", `{"a":1}`)
			if again.Code != http.StatusConflict || again.Body.String() != first.Body.String() {
				t.Errorf("retry: got %d %q, want the 409 again", again.Code, again.Body)
			}
			if _, failing := tc.markers.(failingComplete); failing {
				return // the markers are set aside: the retry runs, and the database's receipt stands
			}
			if again.Header().Get("Idempotent-Replayed") != "true" {
				t.Errorf("retry: got headers %v, want the 409 replayed", again.Header())
			}
		})
	}
}

// TestGateRefusalAfterAnotherAttempt: a request refused at the gate before it
// claimed its key is answered as the key's mark says when another attempt
// marked the key first: with that attempt's answer once it is done, told to
// come back while it is in flight, and told of the reuse for another body.
func TestGateRefusalAfterAnotherAttempt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		first  func(m *memory.Markers, id string)
		body   string
		status int
		answer string
	}{
		{"done", func(m *memory.Markers, id string) {
			resp, err := idempotency.Response{Status: http.StatusOK, Body: []byte("held")}.Encode()
			if err != nil {
				t.Fatal(err)
			}
			m.Complete(t.Context(), id, "earlier", idempotency.Fingerprint(http.MethodPost, "/do", []byte(`{"a":1}`)), resp, time.Minute)
		}, `{"a":1}`, http.StatusOK, "held"},
		{"in flight", func(m *memory.Markers, id string) {
			m.Claim(t.Context(), id, "earlier", idempotency.Fingerprint(http.MethodPost, "/do", []byte(`{"a":1}`)), time.Minute)
		}, `{"a":1}`, http.StatusConflict, idempotency.ErrKeyInUse.Error() + "\n"},
		{"another body", func(m *memory.Markers, id string) {
			m.Claim(t.Context(), id, "earlier", idempotency.Fingerprint(http.MethodPost, "/do", []byte(`{"a":2}`)), time.Minute)
		}, `{"a":1}`, http.StatusUnprocessableEntity, idempotency.ErrKeyReused.Error() + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			markers := memory.NewMarkers(0)
			h := newHarnessWith(t, refuse(true), 10*time.Second, markers, func(c *idempotency.Config) { c.SharedMarkers = true })
			h.answersFirst = true
			tc.first(markers, idempotency.MarkerID("alice POST /do", "k"))
			got := h.post("k", "alice", tc.body)
			if got.Code != tc.status || got.Body.String() != tc.answer {
				t.Errorf("got %d %q, want %d %q", got.Code, got.Body, tc.status, tc.answer)
			}
			if _, err := h.store.Receipt(t.Context(), "alice POST /do", "k"); !errors.Is(err, booking.ErrNotFound) {
				t.Errorf("receipt in the database: got %v, want none", err)
			}
		})
	}
}
