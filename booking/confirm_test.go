package booking_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/memory"
)

// twoInstances returns two services over one store and one gate, as two
// seatd processes share PostgreSQL and Redis: neither knows the other's
// holds in flight, so each refusal of the second behind a hold of the first
// is confirmed by the database.
func twoInstances(t *testing.T, gate booking.Gate, confirmFor time.Duration) (store *countingStore, seats []string, first, second *booking.Service) {
	store, seats = newStore(t)
	cfg := booking.Config{Logger: quiet, ClaimGrace: time.Millisecond, ConfirmFor: confirmFor}
	return store, seats, booking.NewService(store, gate, nil, cfg), booking.NewService(store, gate, nil, cfg)
}

// TestRefusalsShareARead: buyers turned away, one after another, from a seat
// another instance holds are confirmed by one read of the database while it
// is younger than ConfirmFor, not one each; past it, each reads again.
func TestRefusalsShareARead(t *testing.T) {
	for _, tc := range []struct {
		confirmFor time.Duration
		reads      int64
	}{{time.Hour, 1}, {time.Nanosecond, 3}} {
		store, seats, first, second := twoInstances(t, memory.NewGate(), tc.confirmFor)
		if _, err := first.Hold(t.Context(), booking.HoldRequest{UserID: "alice", SeatIDs: seats[:1]}); err != nil {
			t.Fatal(err)
		}
		reads := store.reads.Load()
		for _, user := range []string{"bob", "carol", "dave"} {
			if _, err := second.Hold(t.Context(), booking.HoldRequest{UserID: user, SeatIDs: seats[:2]}); !errors.Is(err, booking.ErrSeatUnavailable) {
				t.Fatalf("%s: got %v, want ErrSeatUnavailable", user, err)
			}
		}
		if n := store.reads.Load() - reads; n != tc.reads {
			t.Errorf("ConfirmFor %v: database reads for three refusals in a row: got %d, want %d", tc.confirmFor, n, tc.reads)
		}
	}
}

// stuckRelease is a gate whose releases fail, as while Redis stalls: the
// keys of freed seats stay behind.
type stuckRelease struct{ *memory.Gate }

func (stuckRelease) Release(context.Context, string, string, []string) error {
	return errors.New("redis: i/o timeout")
}

// TestOwnReleaseForgetsConfirmations: what a refusal learned of a seat is
// forgotten once this instance frees it, even if the seat's gate key stays:
// the next buyer gets the seat at once, not after the read ages.
func TestOwnReleaseForgetsConfirmations(t *testing.T) {
	_, seats, first, second := twoInstances(t, stuckRelease{memory.NewGate()}, time.Hour)
	h, err := first.Hold(t.Context(), booking.HoldRequest{UserID: "alice", SeatIDs: seats[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:1]}); !errors.Is(err, booking.ErrSeatUnavailable) {
		t.Fatalf("bob: got %v, want ErrSeatUnavailable", err)
	}
	if _, err := second.Release(t.Context(), booking.ReleaseRequest{UserID: "alice", SeatIDs: seats[:1], HoldToken: h.Token}); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:1]}); err != nil {
		t.Errorf("bob, after alice's release on his instance: got %v, want the seat", err)
	}
}

// TestChangeDuringReadForgotten: a read that confirmed a refusal while this
// instance freed the seat is not remembered: the seat is free by the time
// the read's answer comes back, and the next buyer gets it (a cancellation
// racing a buyer turned away left the next hold refused for ConfirmFor).
func TestChangeDuringReadForgotten(t *testing.T) {
	store, seats, first, second := twoInstances(t, stuckRelease{memory.NewGate()}, time.Hour)
	h, err := first.Hold(t.Context(), booking.HoldRequest{UserID: "alice", SeatIDs: seats[:1]})
	if err != nil {
		t.Fatal(err)
	}
	release := func() {
		if _, err := second.Release(t.Context(), booking.ReleaseRequest{UserID: "alice", SeatIDs: seats[:1], HoldToken: h.Token}); err != nil {
			t.Error(err)
		}
	}
	store.afterRead.Store(&release)
	if _, err := second.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:1]}); !errors.Is(err, booking.ErrSeatUnavailable) {
		t.Fatalf("bob, read before alice's release: got %v, want ErrSeatUnavailable", err)
	}
	if store.afterRead.Load() != nil {
		t.Fatal("bob's refusal was not confirmed by a read")
	}
	if _, err := second.Hold(t.Context(), booking.HoldRequest{UserID: "carol", SeatIDs: seats[:1]}); err != nil {
		t.Errorf("carol, after alice's release: got %v, want the seat", err)
	}
}

// TestGateRefusalByOthers: a refusal at the gate tells its Idempotent when
// every seat it names is another user's, and only then: a seat of the user's
// own hold may be an earlier attempt of the same request, whose answer stands.
func TestGateRefusalByOthers(t *testing.T) {
	_, seats, first, second := twoInstances(t, memory.NewGate(), time.Hour)
	for _, user := range []string{"alice", "bob"} {
		if _, err := first.Hold(t.Context(), booking.HoldRequest{UserID: user, SeatIDs: seats[map[string]int{"alice": 0, "bob": 1}[user]:][:1]}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		svc      *booking.Service
		user     string
		seats    []string
		byOthers bool
	}{
		{"carol, on the instance that holds", first, "carol", seats[:2], true},
		{"carol, on the other instance", second, "carol", seats[:2], true},
		{"alice, her own seat among them", first, "alice", seats[:2], false},
		{"alice, on the other instance", second, "alice", seats[:2], false},
		{"alice, only bob's seat", second, "alice", seats[1:2], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			told := false
			idem := &booking.Idempotent{Scope: tc.user, Key: booking.NewID(), Render: func(any) ([]byte, error) { return nil, nil },
				OnGateRefusal: func() { told = true }}
			_, err := tc.svc.Hold(t.Context(), booking.HoldRequest{UserID: tc.user, SeatIDs: tc.seats, Idempotent: idem})
			if !errors.Is(err, booking.ErrSeatUnavailable) {
				t.Fatalf("got %v, want ErrSeatUnavailable", err)
			}
			if told != tc.byOthers {
				t.Errorf("told of a refusal by others: got %v, want %v", told, tc.byOthers)
			}
		})
	}
}
