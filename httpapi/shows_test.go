package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"seatmanager/auth"
	"seatmanager/booking"
)

// adminToken proves an operator.
func adminToken(t *testing.T) string {
	t.Helper()
	tok, _, err := testIssuer.Issue("ops", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

func newLayout() map[string]any {
	return map[string]any{
		"movieTitle": "Nosferatu", "startsAt": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339), "auditorium": "Hall 7",
		"rows": []map[string]any{
			{"label": "A", "seats": 6, "aisleAfter": []int{3}, "accessible": []int{1}},
			{"label": "B", "seats": 4, "category": "premium"},
		},
	}
}

// TestCreateShow: an operator makes a show from a layout (201, its counts);
// its seat map has the layout's seats with their columns; a retry of the key
// replays the answer and makes no second show.
func TestCreateShow(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvOn(t, engine, booking.Config{})
			// One layout for both requests: a second newLayout could start a
			// second later, another body under the same key.
			layout := newLayout()
			r := e.do(t, http.MethodPost, "/api/shows", layout, "Idempotency-Key", "show-1", "Authorization", adminToken(t))
			wantStatus(t, r, http.StatusCreated)
			show := r.json(t)
			if show["movieTitle"] != "Nosferatu" || show["seatsTotal"] != float64(10) || show["seatsAvailable"] != float64(10) {
				t.Errorf("got %v, want Nosferatu with 10 seats, all available", show)
			}
			m := e.do(t, http.MethodGet, "/api/seats/"+show["id"].(string), nil).json(t)
			seats := m["seats"].([]any)
			a4 := seats[3].(map[string]any)
			a1 := seats[0].(map[string]any)
			if len(seats) != 10 || a4["label"] != "A4" || a4["x"] != float64(5) || a1["accessible"] != true {
				t.Errorf("got seats %v, want 10 with A4 in column 5 and A1 accessible", seats)
			}
			again := e.do(t, http.MethodPost, "/api/shows", layout, "Idempotency-Key", "show-1", "Authorization", adminToken(t))
			if again.status != http.StatusCreated || again.header.Get("Idempotent-Replayed") != "true" || string(again.body) != string(r.body) {
				t.Errorf("retry: got %d %s (replayed %q), want the first answer replayed", again.status, again.body, again.header.Get("Idempotent-Replayed"))
			}
			shows := e.do(t, http.MethodGet, "/api/seats/shows", nil)
			if n := strings.Count(string(shows.body), "Nosferatu"); n != 1 {
				t.Errorf("got %d Nosferatu shows after a retry, want 1", n)
			}
		})
	}
}

// TestCreateShowRefusals: only operators may make shows, and a bad layout is
// a 400 that names what is wrong.
func TestCreateShowRefusals(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvOn(t, engine, booking.Config{MaxShowSeats: 50})
			post := func(body any, authorization string) response {
				return e.do(t, http.MethodPost, "/api/shows", body, "Idempotency-Key", booking.NewID(), "Authorization", authorization)
			}
			wantProblem(t, post(newLayout(), ""), http.StatusUnauthorized, "unauthenticated")
			wantProblem(t, post(newLayout(), "Bearer "+tokenOf(t, "alice")), http.StatusForbidden, "forbidden")
			with := func(k string, v any) map[string]any { l := newLayout(); l[k] = v; return l }
			for _, tt := range []struct {
				name   string
				body   any
				detail string
			}{
				{"no rows", with("rows", []any{}), "at least one row"},
				{"duplicate row", with("rows", []map[string]any{{"label": "A", "seats": 2}, {"label": "A", "seats": 2}}), "names two rows"},
				{"zero seats", with("rows", []map[string]any{{"label": "A", "seats": 0}}), "at least 1"},
				{"too many seats", with("rows", []map[string]any{{"label": "A", "seats": 30}, {"label": "B", "seats": 21}}), "more than 50 seats"},
				{"accessible outside", with("rows", []map[string]any{{"label": "A", "seats": 2, "accessible": []int{3}}}), "accessible names seat 3"},
				{"aisle outside", with("rows", []map[string]any{{"label": "A", "seats": 2, "aisleAfter": []int{-1}}}), "aisleAfter names seat -1"},
				{"no title", with("movieTitle", ""), "movieTitle"},
				{"no auditorium", with("auditorium", ""), "auditorium"},
				{"no start", with("startsAt", nil), "startsAt is required"},
				{"start in the past", with("startsAt", "2020-01-01T20:00:00Z"), "in the past"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					p := wantProblem(t, post(tt.body, adminToken(t)), http.StatusBadRequest, "invalid-request")
					if d, _ := p["detail"].(string); !strings.Contains(d, tt.detail) {
						t.Errorf("got detail %q, want it to say %q", d, tt.detail)
					}
				})
			}
			wantProblem(t, post(`{"movieTitle": 3}`, adminToken(t)), http.StatusBadRequest, "invalid-json")
			shows := e.do(t, http.MethodGet, "/api/seats/shows", nil).body
			if strings.Contains(string(shows), "Nosferatu") {
				t.Errorf("a refused layout made a show: %s", shows)
			}
		})
	}
}

// TestCreateStadium: a layout of 100,000 seats (the default cap) is made on
// PostgreSQL within the route's 10 s, and its seat map has every seat.
// SQLite makes one in about 3 s (BenchmarkCreateStadium, docs/BENCHMARKS.md),
// but some 20 times slower under the race detector, which every test here
// runs under: its figure comes from the benchmark.
func TestCreateStadium(t *testing.T) {
	e := newEnvOn(t, "postgres", booking.Config{})
	start := time.Now()
	id := createStadium(t, e)
	took := time.Since(start)
	m := e.do(t, http.MethodGet, "/api/seats/"+id, nil)
	if n := strings.Count(string(m.body), `"label"`); n != 100_000 {
		t.Errorf("the stadium's seat map has %d seats, want 100000", n)
	}
	t.Logf("100,000 seats created in %v (under -race)", took.Round(time.Millisecond))
}

// BenchmarkCreateStadium makes 100,000-seat shows through the API.
func BenchmarkCreateStadium(b *testing.B) {
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			e := newEnvTB(b, engine, booking.Config{})
			for b.Loop() {
				createStadium(b, e)
			}
		})
	}
}

// createStadium makes a show of 100 rows of 1,000 seats, each row with three
// aisles, and returns its id.
func createStadium(tb testing.TB, e *env) string {
	tb.Helper()
	rows := make([]map[string]any, 100)
	for i := range rows {
		rows[i] = map[string]any{"label": "R" + strconv.Itoa(i+1), "seats": 1000, "aisleAfter": []int{250, 500, 750}}
	}
	l := newLayout()
	l["rows"] = rows
	tok, _, err := testIssuer.Issue("ops", auth.RoleAdmin)
	if err != nil {
		tb.Fatal(err)
	}
	r := e.request(tb, http.MethodPost, "/api/shows", l, "Idempotency-Key", booking.NewID(), "Authorization", "Bearer "+tok)
	if r.status != http.StatusCreated {
		tb.Fatalf("POST /api/shows of 100,000 seats: got %d %s, want 201", r.status, r.body)
	}
	var show struct{ ID string }
	json.Unmarshal(r.body, &show)
	return show.ID
}

// TestBlockSeats: operators block and unblock seats; a blocked seat is
// "blocked" in the seat map and cannot be held; blocking a held seat is a
// 409 naming it; buyers may not block.
func TestBlockSeats(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvOn(t, engine, booking.Config{})
			blockPath := "/api/shows/" + e.show.ID + "/seats/block"
			wantProblem(t, e.post(t, blockPath, map[string]any{"seatIds": e.seats[:1], "userId": "alice"}), http.StatusForbidden, "forbidden")
			r := e.do(t, http.MethodPost, blockPath, map[string]any{"seatIds": e.seats[:2]}, "Idempotency-Key", booking.NewID(), "Authorization", adminToken(t))
			wantStatus(t, r, http.StatusOK)
			if got := r.json(t); got["blocked"] != true || len(got["seatIds"].([]any)) != 2 {
				t.Errorf("got %v, want both seats blocked", got)
			}
			wantSeats(t, e, "blocked", e.seats[:2]...)
			p := wantProblem(t, e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[1:3], "userId": "alice"}), http.StatusConflict, "seats-unavailable")
			if ids := seatList(t, p["conflictingSeatIds"]); len(ids) != 1 || ids[0] != e.seats[1] {
				t.Errorf("got conflicting seats %v, want the blocked one", ids)
			}
			wantStatus(t, e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[2:3], "userId": "alice"}), http.StatusOK)
			p = wantProblem(t, e.do(t, http.MethodPost, blockPath, map[string]any{"seatIds": e.seats[2:4]}, "Idempotency-Key", booking.NewID(), "Authorization", adminToken(t)),
				http.StatusConflict, "seats-unavailable")
			if ids := seatList(t, p["conflictingSeatIds"]); len(ids) != 1 || ids[0] != e.seats[2] {
				t.Errorf("blocking a held seat: got conflicting %v, want it named", ids)
			}
			wantSeats(t, e, "available", e.seats[3])
			wantStatus(t, e.do(t, http.MethodPost, "/api/shows/"+e.show.ID+"/seats/unblock", map[string]any{"seatIds": e.seats[:2]},
				"Idempotency-Key", booking.NewID(), "Authorization", adminToken(t)), http.StatusOK)
			wantStatus(t, e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "bob"}), http.StatusOK)
		})
	}
}
