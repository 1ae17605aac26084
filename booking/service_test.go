package booking_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/memory"
	"seatmanager/sqlite"
	"seatmanager/storetest"
)

// countingStore is a real SQLite store that counts the holds reaching it.
type countingStore struct {
	*sqlite.Store
	holds   atomic.Int64
	lookups atomic.Int64 // SeatShows calls
	reads   atomic.Int64 // TakenSeats calls
	// afterRead, if set, runs once after a TakenSeats read, before its
	// answer is returned: a change there is one the read did not see.
	afterRead atomic.Pointer[func()]
}

func (s *countingStore) Hold(ctx context.Context, p booking.HoldParams) (booking.Hold, error) {
	s.holds.Add(1)
	return s.Store.Hold(ctx, p)
}

func (s *countingStore) SeatShows(ctx context.Context, seatIDs []string) (map[string]booking.SeatRef, error) {
	s.lookups.Add(1)
	return s.Store.SeatShows(ctx, seatIDs)
}

func (s *countingStore) TakenSeats(ctx context.Context, seatIDs []string) (map[string]booking.Taken, error) {
	s.reads.Add(1)
	taken, err := s.Store.TakenSeats(ctx, seatIDs)
	if f := s.afterRead.Swap(nil); f != nil {
		(*f)()
	}
	return taken, err
}

func newStore(t *testing.T) (*countingStore, []string) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	show := storetest.NewShowSpec(1, 6)
	if _, err := s.CreateShow(t.Context(), show); err != nil {
		t.Fatal(err)
	}
	var seats []string
	for _, seat := range show.Seats {
		seats = append(seats, seat.ID)
	}
	return &countingStore{Store: s}, seats
}

func TestServiceValidates(t *testing.T) {
	store, seats := newStore(t)
	svc := booking.NewService(store, memory.NewGate(), nil, booking.Config{MaxSeats: 3})
	for name, req := range map[string]booking.BookRequest{
		"no user":        {SeatIDs: seats[:1]},
		"bad user":       {UserID: "a b", SeatIDs: seats[:1]},
		"no seats":       {UserID: "u"},
		"too many seats": {UserID: "u", SeatIDs: seats[:4]},
		"not a UUID":     {UserID: "u", SeatIDs: []string{"A1"}},
		"duplicate":      {UserID: "u", SeatIDs: []string{seats[0], strings.ToUpper(seats[0])}},
		"bad token":      {UserID: "u", SeatIDs: seats[:1], HoldToken: "t"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := svc.Book(t.Context(), req)
			if !errors.Is(err, booking.ErrInvalid) {
				t.Errorf("Book: got %v, want ErrInvalid", err)
			}
			_, err = svc.Release(t.Context(), booking.ReleaseRequest(req))
			if !errors.Is(err, booking.ErrInvalid) {
				t.Errorf("Release: got %v, want ErrInvalid", err)
			}
			if req.HoldToken == "" {
				_, err = svc.Hold(t.Context(), booking.HoldRequest{UserID: req.UserID, SeatIDs: req.SeatIDs})
				if !errors.Is(err, booking.ErrInvalid) {
					t.Errorf("Hold: got %v, want ErrInvalid", err)
				}
			}
		})
	}
	if n := store.holds.Load(); n != 0 {
		t.Errorf("invalid requests reached the store %d times, want 0", n)
	}
	if _, err := svc.SeatMap(t.Context(), "nope"); !errors.Is(err, booking.ErrInvalid) {
		t.Errorf("SeatMap of a bad id: got %v, want ErrInvalid", err)
	}
}

func TestServiceUnknownSeats(t *testing.T) {
	store, seats := newStore(t)
	svc := booking.NewService(store, memory.NewGate(), nil, booking.Config{})
	unknown := booking.NewID()
	_, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "u", SeatIDs: []string{seats[0], unknown}})
	var be *booking.Error
	if !errors.As(err, &be) || !errors.Is(err, booking.ErrNotFound) || len(be.SeatIDs) != 1 || be.SeatIDs[0] != unknown {
		t.Errorf("got %v, want ErrNotFound naming %s", err, unknown)
	}
}

// TestGateShedsContention: once a seat is held, the gate answers everyone else
// without a database transaction.
func TestGateShedsContention(t *testing.T) {
	store, seats := newStore(t)
	svc := booking.NewService(store, memory.NewGate(), nil, booking.Config{})
	if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "alice", SeatIDs: seats[:1]}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: []string{seats[i%2+1], seats[0]}})
			if !errors.Is(err, booking.ErrSeatUnavailable) {
				t.Errorf("got %v, want ErrSeatUnavailable", err)
			}
		})
	}
	wg.Wait()
	if n := store.holds.Load(); n != 1 {
		t.Errorf("the store saw %d holds, want 1: the gate should have refused the other 100", n)
	}
	// Seats the refused requests asked for besides the taken one stay free.
	if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "carol", SeatIDs: seats[1:3]}); err != nil {
		t.Errorf("the refused requests' other seats: %v", err)
	}
}

// TestGateReleasedWhenStoreRefuses: a hold the database refuses gives its gate
// keys back, so they do not block the seats it did not get.
func TestGateReleasedWhenStoreRefuses(t *testing.T) {
	store, seats := newStore(t)
	gate := memory.NewGate()
	svc := booking.NewService(store, gate, nil, booking.Config{})
	// Alice's hold is in the database but not in the gate (as after a Redis flush).
	if _, err := store.Store.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: showOf(t, store, seats[0]), UserID: "alice", SeatIDs: seats[:1], TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:2]})
	if !errors.Is(err, booking.ErrSeatUnavailable) {
		t.Fatalf("got %v, want ErrSeatUnavailable from the database", err)
	}
	taken, err := gate.Acquire(t.Context(), "show", booking.NewID(), seats[1:2], time.Minute)
	if err != nil || len(taken) != 0 {
		t.Errorf("seat bob did not get is still in the gate: taken %v, err %v", taken, err)
	}
}

// TestHoldClaimsItsKeyPastTheGate: a hold claims its idempotency key once the
// gate let it through, not before: one refused at the gate claims nothing.
// A hold whose key another attempt has is not made, and gives its gate keys
// back.
func TestHoldClaimsItsKeyPastTheGate(t *testing.T) {
	store, seats := newStore(t)
	gate := memory.NewGate()
	svc := booking.NewService(store, gate, nil, booking.Config{})
	if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "alice", SeatIDs: seats[:1]}); err != nil {
		t.Fatal(err)
	}
	var claims atomic.Int64
	idem := &booking.Idempotent{Claim: func() error {
		claims.Add(1)
		return booking.ErrDuplicateRequest
	}}
	_, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:2], Idempotent: idem})
	if !errors.Is(err, booking.ErrSeatUnavailable) || claims.Load() != 0 {
		t.Fatalf("hold refused at the gate: got %v after %d claims, want ErrSeatUnavailable after none", err, claims.Load())
	}
	_, err = svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[1:3], Idempotent: idem})
	if !errors.Is(err, booking.ErrDuplicateRequest) || claims.Load() != 1 {
		t.Fatalf("hold of a key taken elsewhere: got %v after %d claims, want ErrDuplicateRequest after 1", err, claims.Load())
	}
	if n := store.holds.Load(); n != 1 {
		t.Errorf("the store saw %d holds, want alice's alone", n)
	}
	taken, err := gate.Acquire(t.Context(), "show", booking.NewID(), seats[1:3], time.Minute)
	if err != nil || len(taken) != 0 {
		t.Errorf("seats of the hold not made are still in the gate: taken %v, err %v", taken, err)
	}
}

// TestGateReleasedOnRelease: releasing seats frees their gate keys.
func TestGateReleasedOnRelease(t *testing.T) {
	store, seats := newStore(t)
	gate := memory.NewGate()
	svc := booking.NewService(store, gate, nil, booking.Config{})
	if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "alice", SeatIDs: seats[:2]}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Release(t.Context(), booking.ReleaseRequest{UserID: "alice", SeatIDs: seats[:2]}); err != nil {
		t.Fatal(err)
	}
	before := store.holds.Load()
	if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:2]}); err != nil {
		t.Fatalf("hold after release: %v", err)
	}
	if store.holds.Load() != before+1 {
		t.Error("the hold after release did not reach the store")
	}
}

func showOf(t *testing.T, s *countingStore, seatID string) string {
	t.Helper()
	m, err := s.SeatShows(t.Context(), []string{seatID})
	if err != nil {
		t.Fatal(err)
	}
	return m[seatID].ShowID
}

// TestGateRefusalNamesEverySeat: the gate refuses a request for a seat it has a
// key for; the 409 must also name seats the gate knows nothing of but the
// database has taken (sold long ago, or held while Redis was flushed).
func TestGateRefusalNamesEverySeat(t *testing.T) {
	store, seats := newStore(t)
	svc := booking.NewService(store, memory.NewGate(), nil, booking.Config{})
	// seats[0] is held in the database only; seats[1] through the service.
	if _, err := store.Store.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: showOf(t, store, seats[0]), UserID: "alice", SeatIDs: seats[:1], TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[1:2]}); err != nil {
		t.Fatal(err)
	}
	before := store.holds.Load()
	_, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "carol", SeatIDs: []string{seats[2], seats[1], seats[0]}})
	var be *booking.Error
	if !errors.As(err, &be) || !errors.Is(err, booking.ErrSeatUnavailable) {
		t.Fatalf("got %v, want ErrSeatUnavailable", err)
	}
	if want := []string{seats[1], seats[0]}; !slices.Equal(be.SeatIDs, want) {
		t.Errorf("got conflicting seats %v, want %v in request order", be.SeatIDs, want)
	}
	if store.holds.Load() != before {
		t.Error("a request the gate refused reached the store's Hold")
	}
}

// TestSeatMapRemembersShows: a hold of seats whose seat map was read finds their
// show without asking the store; one whose seat map was not read asks once.
func TestSeatMapRemembersShows(t *testing.T) {
	store, seats := newStore(t)
	svc := booking.NewService(store, nil, nil, booking.Config{})
	ctx := t.Context()
	if _, err := svc.Hold(ctx, booking.HoldRequest{UserID: "alice", SeatIDs: seats[:1]}); err != nil {
		t.Fatal(err)
	}
	if n := store.lookups.Load(); n != 1 {
		t.Fatalf("hold before any seat map: %d seat lookups, want 1", n)
	}
	shows, err := svc.Shows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The cache knows the held seat already; the seat map adds the others.
	if _, err := svc.SeatMap(ctx, shows[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Hold(ctx, booking.HoldRequest{UserID: "bob", SeatIDs: seats[1:3]}); err != nil {
		t.Fatal(err)
	}
	if n := store.lookups.Load(); n != 1 {
		t.Errorf("hold after reading the seat map: %d seat lookups in all, want still 1", n)
	}
}

// recordingScheduler remembers the notices cancelled.
type recordingScheduler struct{ cancelled []string }

func (*recordingScheduler) Schedule(context.Context, booking.Hold) error { return nil }
func (r *recordingScheduler) Cancel(_ context.Context, tokens []string) error {
	r.cancelled = append(r.cancelled, tokens...)
	return nil
}

// TestEndedHoldsCancelled: a hold whose seats were all booked or released
// has its expiry notice cancelled; one with seats left keeps it.
func TestEndedHoldsCancelled(t *testing.T) {
	store, seats := newStore(t)
	sched := &recordingScheduler{}
	svc := booking.NewService(store, memory.NewGate(), sched, booking.Config{})
	booked, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "u", SeatIDs: seats[:2]})
	if err != nil {
		t.Fatal(err)
	}
	released, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "u", SeatIDs: seats[2:4]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Book(t.Context(), booking.BookRequest{UserID: "u", SeatIDs: seats[:1], HoldToken: booked.Token}); err != nil {
		t.Fatal(err)
	}
	if len(sched.cancelled) != 0 {
		t.Fatalf("after booking one of two seats: cancelled %v, want none", sched.cancelled)
	}
	if _, err := svc.Book(t.Context(), booking.BookRequest{UserID: "u", SeatIDs: seats[1:2], HoldToken: booked.Token}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Release(t.Context(), booking.ReleaseRequest{UserID: "u", SeatIDs: seats[2:4]}); err != nil {
		t.Fatal(err)
	}
	if want := []string{booked.Token, released.Token}; !slices.Equal(sched.cancelled, want) {
		t.Errorf("cancelled %v, want %v", sched.cancelled, want)
	}
}
