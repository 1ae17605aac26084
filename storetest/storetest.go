// Package storetest is the conformance suite every store must pass: the postgres
// and sqlite tests run it, so both engines are held to one behaviour.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"seatmanager/booking"
)

// Store is what the suite exercises: the interfaces booking.Service needs, plus
// show creation and the event log.
type Store interface {
	booking.Catalog
	booking.SeatStore
	CreateShow(ctx context.Context, show booking.NewShow) (bool, error)
	Events(ctx context.Context, showID string, afterSeq int64, limit int) ([]booking.Event, error)
	Receipt(ctx context.Context, scope, key string) (booking.Receipt, error)
	SaveReceipt(ctx context.Context, r booking.Receipt, ttl time.Duration) (booking.Receipt, error)
	SweepReceipts(ctx context.Context, limit int) (int, error)
	SaveReceipts(ctx context.Context, rs []booking.Receipt, ttl time.Duration) ([]booking.Receipt, error)
	LookupHold(ctx context.Context, token string) (booking.Hold, error)
	ExtendHold(ctx context.Context, p booking.ExtendParams) (booking.Hold, error)
	ReleaseHold(ctx context.Context, token string) (booking.Lapse, error)
	ReleaseLapsed(ctx context.Context, limit int) ([]booking.Lapse, error)
	booking.SaleStore
	booking.BlockStore
	TakenSeats(ctx context.Context, seatIDs []string) (map[string]booking.Taken, error)
}

// Run runs the suite. newStore returns an empty store of its own for each test.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	tests := map[string]func(t *testing.T, s Store){
		"CreateShow":              testCreateShow,
		"Hold":                    testHold,
		"HoldConflictAllOrNone":   testHoldConflict,
		"HoldAfterLapse":          testHoldAfterLapse,
		"Book":                    testBook,
		"BookRefusals":            testBookRefusals,
		"BookAfterLapse":          testBookAfterLapse,
		"BookAfterLapseTakenOver": testBookAfterLapseTakenOver,
		"Release":                 testRelease,
		"EndedHolds":              testEndedHolds,
		"EventsNumberedPerShow":   testEventsPerShow,
		"ConcurrentOverlapHolds":  testConcurrentHolds,
		"ConcurrentHoldAndBook":   testConcurrentHoldAndBook,
		"UnknownShowAndSeats":     testUnknown,
		"BookedSeatStaysBooked":   testBookedStaysBooked,
		"ReleaseFreesForOthers":   testReleaseFreesForOthers,
		"HoldTokenFencesRelease":  testHoldTokenFencesRelease,
		"SeatMapOrderAndLabels":   testSeatMapOrder,
		"ShowsCountAvailability":  testShowsCounts,
		"HoldTakesOnlyItsOwnShow": testHoldOtherShow,
		"ReceiptWithEachChange":   testReceiptWithChange,
		"ReceiptDuplicateUndoes":  testReceiptDuplicate,
		"ReceiptNotOnFailure":     testReceiptNotOnFailure,
		"ReceiptRenderFailure":    testReceiptRenderFailure,
		"SaveReceiptFirstWins":    testSaveReceipt,
		"ReceiptExpiryAndSweep":   testReceiptExpiry,
		"LookupHold":              testLookupHold,
		"ExtendHold":              testExtendHold,
		"ExtendOutlivesOldExpiry": testExtendOutlives,
		"ReleaseHoldOnlyLapsed":   testReleaseHold,
		"ReleaseLapsedSweeps":     testReleaseLapsed,
		"LazyTakeoverReported":    testLazyTakeover,
		"ExpiryRacesBook":         testExpiryRacesBook,
		"TakenSeats":              testTakenSeats,
		"SaveReceiptsBatch":       testSaveReceipts,
		"MatchesModel":            testMatchesModel,
		"HeldCapPerUserAndShow":   testHeldCap,
		"HeldCapHoldsInParallel":  testHeldCapParallel,
		"SeatGeometryFromLayout":  testSeatGeometry,
		"SalesReadBack":           testSales,
		"CancelFreesSeats":        testCancel,
		"CancelAfterShowStart":    testCancelAfterStart,
		"CancelRaces":             testCancelRaces,
		"BlockedSeats":            testBlock,
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, newStore(t))
		})
	}
}

// fixture is a show created in the store under test.
type fixture struct {
	show  booking.NewShow
	seats []string // seat ids in seat-map order
}

// NewShowSpec describes a new show of rows×perRow seats; the last row is "premium".
func NewShowSpec(rows, perRow int) booking.NewShow {
	show := booking.NewShow{
		ID: booking.NewID(), MovieTitle: "Test show",
		StartsAt: time.Now().Add(24 * time.Hour).Truncate(time.Millisecond).UTC(), Auditorium: "Hall 1",
	}
	for r := range rows {
		category := "standard"
		if r == rows-1 {
			category = "premium"
		}
		for n := 1; n <= perRow; n++ {
			show.Seats = append(show.Seats, booking.NewSeat{ID: booking.NewID(), Row: string(rune('A' + r)), Number: n, Category: category})
		}
	}
	return show
}

// newShow creates a show of rows×perRow seats in s.
func newShow(t *testing.T, s Store, rows, perRow int) fixture {
	t.Helper()
	show := NewShowSpec(rows, perRow)
	created, err := s.CreateShow(t.Context(), show)
	if err != nil || !created {
		t.Fatalf("CreateShow: got (%v, %v), want (true, nil)", created, err)
	}
	f := fixture{show: show}
	for _, seat := range show.Seats {
		f.seats = append(f.seats, seat.ID)
	}
	return f
}

func hold(t *testing.T, s Store, f fixture, user string, ttl time.Duration, seatIDs ...string) booking.Hold {
	t.Helper()
	h, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: user, SeatIDs: seatIDs, TTL: ttl})
	if err != nil {
		t.Fatalf("Hold(%s, %v): %v", user, seatIDs, err)
	}
	return h
}

func statuses(t *testing.T, s Store, f fixture) map[string]booking.Status {
	t.Helper()
	m, err := s.SeatMap(t.Context(), f.show.ID)
	if err != nil {
		t.Fatalf("SeatMap: %v", err)
	}
	out := make(map[string]booking.Status, len(m.Seats))
	for _, seat := range m.Seats {
		out[seat.ID] = seat.Status
	}
	return out
}

// wantStatus fails unless every seat in ids has status want.
func wantStatus(t *testing.T, s Store, f fixture, want booking.Status, ids ...string) {
	t.Helper()
	got := statuses(t, s, f)
	for _, id := range ids {
		if got[id] != want {
			t.Errorf("seat %s: got status %q, want %q", id, got[id], want)
		}
	}
}

// wantSeatError fails unless err is a *booking.Error of kind naming exactly seats.
func wantSeatError(t *testing.T, err error, kind error, seats ...string) {
	t.Helper()
	var be *booking.Error
	if !errors.As(err, &be) || !errors.Is(err, kind) {
		t.Fatalf("got error %v, want %v", err, kind)
	}
	if diff := cmp.Diff(seats, be.SeatIDs); diff != "" {
		t.Errorf("seats named by the error (-want +got):\n%s", diff)
	}
}

// awaitLapse waits until the database clock has passed a hold's expiry, which the
// seat map shows as the seat turning available again.
func awaitLapse(t *testing.T, s Store, f fixture, seatID string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for statuses(t, s, f)[seatID] != booking.StatusAvailable {
		if time.Now().After(deadline) {
			t.Fatalf("seat %s: hold did not lapse within 5s", seatID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func events(t *testing.T, s Store, showID string) []booking.Event {
	t.Helper()
	ev, err := s.Events(t.Context(), showID, 0, 100000)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return ev
}

// wantGaplessEvents fails unless the show's events are numbered 1..n.
func wantGaplessEvents(t *testing.T, ev []booking.Event) {
	t.Helper()
	for i, e := range ev {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, i+1)
		}
	}
}

func userN(i int) string { return fmt.Sprintf("user-%d", i) }

// race runs n goroutines of fn at once and waits for them.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}
