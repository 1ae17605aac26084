package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/httpapi"
	"seatmanager/memory"
	"seatmanager/sqlite"
	"seatmanager/storetest"
)

// env is an API over a real SQLite store and the in-process gate, with one show.
type env struct {
	handler http.Handler
	store   *sqlite.Store
	show    booking.NewShow
	seats   []string
}

func newEnv(t *testing.T, cfg booking.Config) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	show := storetest.NewShowSpec(2, 6)
	if _, err := store.CreateShow(t.Context(), show); err != nil {
		t.Fatal(err)
	}
	e := &env{store: store, show: show}
	for _, seat := range show.Seats {
		e.seats = append(e.seats, seat.ID)
	}
	svc := booking.NewService(store, store, memory.NewGate(), cfg)
	e.handler = httpapi.NewServer(svc, httpapi.Config{Ready: store.Ping})
	return e
}

// response is an answer as a client sees it.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (e *env) do(t *testing.T, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (e *env) post(t *testing.T, path string, body any) response {
	t.Helper()
	return e.do(t, http.MethodPost, path, body, "Idempotency-Key", booking.NewID())
}

// wantProblem fails unless r is a problem of the given status and type slug.
func wantProblem(t *testing.T, r response, status int, slug string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("got Content-Type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	if p["type"] != "/problems/"+slug || p["status"] != float64(status) || p["title"] == "" {
		t.Errorf("got problem %v, want type /problems/%s and status %d", p, slug, status)
	}
	return p
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d, want %d; body %s", r.status, status, r.body)
	}
}

// seatStatuses reads the seat map through the API.
func (e *env) seatStatuses(t *testing.T) (seq float64, statuses map[string]string) {
	t.Helper()
	r := e.do(t, http.MethodGet, "/api/seats/"+e.show.ID, nil)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	statuses = make(map[string]string)
	for _, s := range m["seats"].([]any) {
		seat := s.(map[string]any)
		statuses[seat["id"].(string)] = seat["status"].(string)
	}
	return m["seq"].(float64), statuses
}

func wantSeats(t *testing.T, e *env, want string, ids ...string) {
	t.Helper()
	_, got := e.seatStatuses(t)
	for _, id := range ids {
		if got[id] != want {
			t.Errorf("seat %s: got %q, want %q", id, got[id], want)
		}
	}
}

func seatList(t *testing.T, v any) []string {
	t.Helper()
	raw, ok := v.([]any)
	if !ok {
		t.Fatalf("got %v, want a list of seat ids", v)
	}
	out := make([]string, len(raw))
	for i, s := range raw {
		out[i] = s.(string)
	}
	return out
}

func TestHealth(t *testing.T) {
	e := newEnv(t, booking.Config{})
	wantStatus(t, e.do(t, http.MethodGet, "/healthz", nil), http.StatusOK)
	wantStatus(t, e.do(t, http.MethodGet, "/readyz", nil), http.StatusOK)
	e.store.Close()
	wantProblem(t, e.do(t, http.MethodGet, "/readyz", nil), http.StatusServiceUnavailable, "not-ready")
	wantStatus(t, e.do(t, http.MethodGet, "/healthz", nil), http.StatusOK)
}

func TestProblemTypesResolve(t *testing.T) {
	e := newEnv(t, booking.Config{})
	r := e.do(t, http.MethodGet, "/problems/seats-unavailable", nil)
	wantStatus(t, r, http.StatusOK)
	if d := r.json(t); d["status"] != float64(409) || d["description"] == "" {
		t.Errorf("got %v, want the description of a 409", d)
	}
	wantProblem(t, e.do(t, http.MethodGet, "/problems/nonsense", nil), http.StatusNotFound, "not-found")
}

func TestWithoutGate(t *testing.T) {
	// A service without a gate lets the database decide everything.
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	show := storetest.NewShowSpec(1, 1)
	store.CreateShow(t.Context(), show)
	h := httpapi.NewServer(booking.NewService(store, store, nil, booking.Config{HoldTTL: time.Minute}), httpapi.Config{})
	e := &env{handler: h, store: store, show: show, seats: []string{show.Seats[0].ID}}
	wantStatus(t, e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats, "userId": "u"}), http.StatusOK)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
