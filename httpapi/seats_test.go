package httpapi_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"seatmanager/booking"
	"seatmanager/httpapi"
	"seatmanager/memory"
	"seatmanager/sqlite"
	"seatmanager/storetest"
)

func TestShows(t *testing.T) {
	e := newEnv(t, booking.Config{})
	r := e.do(t, http.MethodGet, "/api/seats/shows", nil)
	wantStatus(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	var shows []map[string]any
	if err := jsonUnmarshal(r.body, &shows); err != nil || len(shows) != 1 {
		t.Fatalf("got %s, want one show", r.body)
	}
	want := map[string]any{
		"id": e.show.ID, "movieTitle": e.show.MovieTitle, "startsAt": e.show.StartsAt.Format(time.RFC3339Nano),
		"auditorium": e.show.Auditorium, "seatsTotal": float64(12), "seatsAvailable": float64(12),
	}
	if diff := cmp.Diff(want, shows[0]); diff != "" {
		t.Errorf("show (-want +got):\n%s", diff)
	}
}

func TestSeatMap(t *testing.T) {
	e := newEnv(t, booking.Config{})
	r := e.do(t, http.MethodGet, "/api/seats/"+strings.ToUpper(e.show.ID), nil)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	if m["showId"] != e.show.ID || m["seq"] != float64(0) {
		t.Errorf("got showId %v seq %v, want %s and 0", m["showId"], m["seq"], e.show.ID)
	}
	seats := m["seats"].([]any)
	if len(seats) != 12 {
		t.Fatalf("got %d seats, want 12", len(seats))
	}
	want := map[string]any{"id": e.seats[0], "row": "A", "number": float64(1), "label": "A1", "category": "standard", "status": "available",
		"accessible": false, "x": float64(1)}
	if diff := cmp.Diff(want, seats[0]); diff != "" {
		t.Errorf("first seat (-want +got):\n%s", diff)
	}
	if last := seats[11].(map[string]any); last["label"] != "B6" || last["category"] != "premium" {
		t.Errorf("got last seat %v, want B6 premium", last)
	}
}

func TestHoldBookRelease(t *testing.T) {
	e := newEnv(t, booking.Config{HoldTTL: 90 * time.Second})
	before := time.Now()
	r := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice"})
	wantStatus(t, r, http.StatusOK)
	h := r.json(t)
	token, _ := h["holdToken"].(string)
	if _, ok := booking.ParseID(token); !ok || h["showId"] != e.show.ID || h["ttlSeconds"] != float64(90) {
		t.Errorf("got hold %v, want a token, show %s and ttlSeconds 90", h, e.show.ID)
	}
	if diff := cmp.Diff(e.seats[:2], seatList(t, h["seatIds"])); diff != "" {
		t.Errorf("held seats (-want +got):\n%s", diff)
	}
	expires, err := time.Parse(time.RFC3339, h["expiresAt"].(string))
	if err != nil || expires.Before(before.Add(89*time.Second)) || expires.After(time.Now().Add(91*time.Second)) {
		t.Errorf("got expiresAt %v (%v), want 90s from now", h["expiresAt"], err)
	}
	wantSeats(t, e, "held", e.seats[:2]...)

	// Someone else wanting one of them is told which.
	r = e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": []string{e.seats[2], e.seats[1]}, "userId": "bob"})
	p := wantProblem(t, r, http.StatusConflict, "seats-unavailable")
	if diff := cmp.Diff([]string{e.seats[1]}, seatList(t, p["conflictingSeatIds"])); diff != "" {
		t.Errorf("conflicting seats (-want +got):\n%s", diff)
	}
	wantSeats(t, e, "available", e.seats[2])

	// Nor can bob book or release alice's seats.
	p = wantProblem(t, e.post(t, "/api/seats/book-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "bob"}), http.StatusConflict, "seats-unavailable")
	if diff := cmp.Diff(e.seats[:1], seatList(t, p["conflictingSeatIds"])); diff != "" {
		t.Errorf("conflicting seats (-want +got):\n%s", diff)
	}
	wantProblem(t, e.post(t, "/api/seats/release-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "bob"}), http.StatusConflict, "seats-unavailable")

	// Alice releases one seat and books the other.
	r = e.post(t, "/api/seats/release-bulk", map[string]any{"seatIds": e.seats[1:2], "userId": "alice", "holdToken": token})
	wantStatus(t, r, http.StatusOK)
	if rel := r.json(t); rel["showId"] != e.show.ID || rel["releasedAt"] == nil {
		t.Errorf("got release %v", rel)
	}
	wantSeats(t, e, "available", e.seats[1])
	r = e.post(t, "/api/seats/book-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "alice", "holdToken": token})
	wantStatus(t, r, http.StatusOK)
	b := r.json(t)
	if _, ok := booking.ParseID(fmt.Sprint(b["bookingId"])); !ok || b["showId"] != e.show.ID || b["bookedAt"] == nil {
		t.Errorf("got booking %v", b)
	}
	wantSeats(t, e, "booked", e.seats[0])
	if seq, _ := e.seatStatuses(t); seq != 4 {
		t.Errorf("got seq %v, want 4 (2 holds, 1 release, 1 booking)", seq)
	}

	// A booked seat cannot be held again.
	wantProblem(t, e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "bob"}), http.StatusConflict, "seats-unavailable")
}

func TestBookAfterExpiry(t *testing.T) {
	e := newEnv(t, booking.Config{HoldTTL: 50 * time.Millisecond})
	r := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice"})
	wantStatus(t, r, http.StatusOK)
	token := r.json(t)["holdToken"]
	e.awaitLapse(t, e.seats[0])
	p := wantProblem(t, e.post(t, "/api/seats/book-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice", "holdToken": token}), http.StatusGone, "hold-expired")
	if diff := cmp.Diff(e.seats[:2], seatList(t, p["expiredSeatIds"])); diff != "" {
		t.Errorf("expired seats (-want +got):\n%s", diff)
	}
	wantSeats(t, e, "available", e.seats[:2]...)
}

// TestBookAroundExpiry: the database's clock decides, to the millisecond: a
// hold booked 1 ms before its expiry is sold and stays sold through the sweep;
// one booked at its expiry gets 410 and changes nothing. The store's clock is
// the test's, so no timing can make it flaky.
func TestBookAroundExpiry(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var mu sync.Mutex
	now := time.Now().Truncate(time.Millisecond)
	store.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setClock := func(at time.Time) { mu.Lock(); defer mu.Unlock(); now = at }
	show := storetest.NewShowSpec(1, 2)
	if _, err := store.CreateShow(t.Context(), show); err != nil {
		t.Fatal(err)
	}
	seats := []string{show.Seats[0].ID, show.Seats[1].ID}
	e := &env{store: store, show: show, seats: seats}
	svc := booking.NewService(store, memory.NewGate(), nil, booking.Config{HoldTTL: time.Minute})
	e.handler = runServer(t, httpapi.NewServer(svc, httpapi.Config{Ready: store.Ping, Receipts: store, Markers: memory.NewMarkers(0), Auth: testVerifier}))

	hold := func(user, seat string) (string, time.Time) {
		r := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": []string{seat}, "userId": user})
		wantStatus(t, r, http.StatusOK)
		expires, err := time.Parse(time.RFC3339Nano, r.json(t)["expiresAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return r.json(t)["holdToken"].(string), expires
	}
	token, expires := hold("early", seats[0])
	setClock(expires.Add(-time.Millisecond))
	wantStatus(t, e.post(t, "/api/seats/book-bulk", map[string]any{"seatIds": seats[:1], "userId": "early", "holdToken": token}), http.StatusOK)

	token, expires = hold("late", seats[1])
	setClock(expires)
	wantProblem(t, e.post(t, "/api/seats/book-bulk", map[string]any{"seatIds": seats[1:], "userId": "late", "holdToken": token}), http.StatusGone, "hold-expired")
	lapses, err := store.ReleaseLapsed(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(lapses) != 1 || len(lapses[0].SeatIDs) != 1 || lapses[0].SeatIDs[0] != seats[1] {
		t.Errorf("the sweep released %+v, want only the late hold's seat", lapses)
	}
	wantSeats(t, e, "booked", seats[0])
	wantSeats(t, e, "available", seats[1])
}

// TestBadInput sends every kind of bad request and checks each gets its 4xx
// problem and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t, booking.Config{MaxSeats: 4})
	hold := "/api/seats/hold-bulk"
	book := "/api/seats/book-bulk"
	release := "/api/seats/release-bulk"
	s0, s1 := e.seats[0], e.seats[1]
	unknown := booking.NewID()
	big := `{"userId":"u","seatIds":["` + strings.Repeat("a", 70<<10) + `"]}`

	tests := []struct {
		name, method, path string
		body               any
		header             []string
		status             int
		slug               string
		detail             string // a part the detail must contain
	}{
		{"malformed JSON", "POST", hold, `{"seatIds": [`, nil, 400, "invalid-json", "ends in the middle"},
		{"syntax error", "POST", hold, `{"seatIds": x}`, nil, 400, "invalid-json", "not valid JSON"},
		{"empty body", "POST", hold, ``, nil, 400, "invalid-json", "empty"},
		{"not an object", "POST", hold, `["a"]`, nil, 400, "invalid-json", "must be a JSON object"},
		{"null", "POST", hold, `null`, nil, 400, "invalid-request", "at least one"},
		{"unknown field", "POST", hold, `{"seatIds":["` + s0 + `"],"userId":"u","seatId":"x"}`, nil, 400, "invalid-json", `unknown field "seatId"`},
		{"holdToken on hold", "POST", hold, `{"seatIds":["` + s0 + `"],"userId":"u","holdToken":"` + unknown + `"}`, nil, 400, "invalid-json", "holdToken"},
		{"seatIds not a list", "POST", hold, `{"seatIds":"` + s0 + `","userId":"u"}`, nil, 400, "invalid-json", "seatIds must be an array of strings"},
		{"seat id a number", "POST", hold, `{"seatIds":[1],"userId":"u"}`, nil, 400, "invalid-json", "seatIds"},
		{"userId a number", "POST", book, `{"seatIds":["` + s0 + `"],"userId":7}`, nil, 400, "invalid-json", "userId must be a string"},
		{"field in other case", "POST", hold, `{"SEATIDS":["` + s0 + `"],"userId":"u"}`, nil, 400, "invalid-json", "case-sensitive"},
		{"field twice", "POST", hold, `{"seatIds":["` + s0 + `"],"userId":"a","userId":"b"}`, nil, 400, "invalid-json", `"userId" appears more than once`},
		{"data after object", "POST", hold, `{"seatIds":["` + s0 + `"],"userId":"u"} {}`, nil, 400, "invalid-json", "after the JSON object"},
		{"bad userId", "POST", hold, map[string]any{"seatIds": []string{s0}, "userId": "a b"}, nil, 400, "invalid-request", "userId"},
		{"long userId", "POST", release, map[string]any{"seatIds": []string{s0}, "userId": strings.Repeat("u", 129)}, nil, 400, "invalid-request", "userId"},
		{"no seats", "POST", hold, map[string]any{"seatIds": []string{}, "userId": "u"}, nil, 400, "invalid-request", "at least one"},
		{"seats missing", "POST", book, map[string]any{"userId": "u"}, nil, 400, "invalid-request", "at least one"},
		{"not a UUID", "POST", hold, map[string]any{"seatIds": []string{s0, "A1"}, "userId": "u"}, nil, 400, "invalid-request", `seatIds[1] "A1" is not a UUID`},
		{"duplicate seat", "POST", hold, map[string]any{"seatIds": []string{s0, s1, strings.ToUpper(s0)}, "userId": "u"}, nil, 400, "invalid-request", "more than once"},
		{"too many seats", "POST", hold, map[string]any{"seatIds": e.seats[:5], "userId": "u"}, nil, 400, "invalid-request", "at most 4"},
		{"bad holdToken", "POST", book, map[string]any{"seatIds": []string{s0}, "userId": "u", "holdToken": "nope"}, nil, 400, "invalid-request", "holdToken"},
		{"unknown seat", "POST", hold, map[string]any{"seatIds": []string{s0, unknown}, "userId": "u"}, nil, 404, "not-found", unknown},
		{"unknown seat on book", "POST", book, map[string]any{"seatIds": []string{unknown}, "userId": "u"}, nil, 404, "not-found", unknown},
		{"too large", "POST", hold, big, nil, 413, "body-too-large", "exceeds"},
		{"not JSON", "POST", hold, `seatIds=1`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported-media-type", "not JSON"},
		{"GET on a POST route", "GET", hold, nil, nil, 405, "method-not-allowed", "allowed: POST"},
		{"DELETE on a POST route", "DELETE", release, nil, nil, 405, "method-not-allowed", "POST"},
		{"PUT on a POST route", "PUT", hold, nil, nil, 405, "method-not-allowed", "allowed: POST"},
		{"PUT on shows", "PUT", "/api/seats/shows", nil, nil, 405, "method-not-allowed", "GET"},
		{"unknown route", "GET", "/api/nothing", nil, nil, 404, "not-found", "no route"},
		{"show id not a UUID", "GET", "/api/seats/42", nil, nil, 400, "invalid-request", "not a UUID"},
		{"unknown show", "GET", "/api/seats/" + unknown, nil, nil, 404, "not-found", unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A client with a token (u's) sends each bad request: its
			// body, not its caller, is what is wrong.
			header := append([]string{"Idempotency-Key", booking.NewID(), "Authorization", "Bearer " + tokenOf(t, "u")}, tt.header...)
			r := e.do(t, tt.method, tt.path, tt.body, header...)
			p := wantProblem(t, r, tt.status, tt.slug)
			if d, _ := p["detail"].(string); !strings.Contains(d, tt.detail) {
				t.Errorf("got detail %q, want it to contain %q", d, tt.detail)
			}
			if tt.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			if tt.status == http.StatusMethodNotAllowed && tt.path != "/api/seats/shows" && r.header.Get("Allow") != "POST" {
				t.Errorf("got Allow %q on a POST-only route, want POST", r.header.Get("Allow"))
			}
		})
	}
	// Nothing of all that changed a seat or wrote an event.
	seq, statuses := e.seatStatuses(t)
	if seq != 0 {
		t.Errorf("got seq %v after bad requests, want 0", seq)
	}
	for id, st := range statuses {
		if st != "available" {
			t.Errorf("seat %s is %s after bad requests, want available", id, st)
		}
	}
}

// TestSeatsOfTwoShows needs two shows in one store, unlike TestBadInput's envs.
func TestSeatsOfTwoShows(t *testing.T) {
	e := newEnv(t, booking.Config{})
	second := storeShow(t, e)
	r := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": []string{e.seats[0], second}, "userId": "u"})
	p := wantProblem(t, r, http.StatusBadRequest, "invalid-request")
	if d := p["detail"].(string); !strings.Contains(d, "different shows") {
		t.Errorf("got detail %q, want it to say different shows", d)
	}
	wantSeats(t, e, "available", e.seats[0])
}

func storeShow(t *testing.T, e *env) string {
	t.Helper()
	show := booking.NewShow{ID: booking.NewID(), MovieTitle: "Second", StartsAt: time.Now(), Auditorium: "2",
		Seats: []booking.NewSeat{{ID: booking.NewID(), Row: "A", Number: 1, Category: "standard"}}}
	if _, err := e.store.CreateShow(t.Context(), show); err != nil {
		t.Fatal(err)
	}
	return show.Seats[0].ID
}

func TestSeatIDsAreCanonical(t *testing.T) {
	e := newEnv(t, booking.Config{})
	r := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": []string{strings.ToUpper(e.seats[3])}, "userId": "u"})
	wantStatus(t, r, http.StatusOK)
	if got := seatList(t, r.json(t)["seatIds"]); !slices.Equal(got, e.seats[3:4]) {
		t.Errorf("got seatIds %v, want the canonical %v", got, e.seats[3:4])
	}
}
