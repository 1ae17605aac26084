package storetest

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"seatmanager/booking"
)

func testLookupHold(t *testing.T, s Store) {
	f := newShow(t, s, 1, 3)
	h := hold(t, s, f, "alice", minute, f.seats[2], f.seats[0])
	got, err := s.LookupHold(t.Context(), h.Token)
	if err != nil {
		t.Fatal(err)
	}
	want := booking.Hold{Token: h.Token, Version: 1, UserID: "alice", ShowID: f.show.ID, SeatIDs: sortedIDs(f.seats[2], f.seats[0]), ExpiresAt: h.ExpiresAt}
	if diff := cmp.Diff(want, got, cmp.Comparer(sameMillisecond)); diff != "" {
		t.Errorf("LookupHold (-want +got):\n%s", diff)
	}
	// Booked seats leave the hold; once it holds none, it is gone.
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: f.seats[:1]}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LookupHold(t.Context(), h.Token); err != nil || !slices.Equal(got.SeatIDs, f.seats[2:3]) {
		t.Errorf("after booking one seat: got (%v, %v), want the other seat", got.SeatIDs, err)
	}
	if _, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[2:3]}); err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{"emptied": h.Token, "unknown": booking.NewID()} {
		if _, err := s.LookupHold(t.Context(), token); !errors.Is(err, booking.ErrNotFound) {
			t.Errorf("%s hold: got %v, want ErrNotFound", name, err)
		}
	}
	lapsing := hold(t, s, f, "bob", time.Millisecond, f.seats[1])
	awaitLapse(t, s, f, f.seats[1])
	if _, err := s.LookupHold(t.Context(), lapsing.Token); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("lapsed hold: got %v, want ErrNotFound", err)
	}
}

func testExtendHold(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	h := hold(t, s, f, "alice", minute, f.seats...)
	extend := func(user string, key string) (booking.Hold, error) {
		p := booking.ExtendParams{Token: h.Token, UserID: user, By: minute, MaxExtensions: 2}
		if key != "" {
			p.Idempotent = idem("alice extend", key)
		}
		return s.ExtendHold(t.Context(), p)
	}
	if _, err := extend("bob", ""); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("extend by another user: got %v, want ErrNotFound", err)
	}
	for i := 1; i <= 2; i++ {
		got, err := extend("alice", "e"+string(rune('0'+i)))
		if err != nil {
			t.Fatalf("extension %d: %v", i, err)
		}
		if want := h.ExpiresAt.Add(time.Duration(i) * minute); !sameMillisecond(got.ExpiresAt, want) || got.Extensions != i || got.Version != int64(1+i) {
			t.Errorf("extension %d: got expiry %v, extensions %d, version %d; want %v, %d, %d", i, got.ExpiresAt, got.Extensions, got.Version, want, i, 1+i)
		}
		if !slices.Equal(got.SeatIDs, sortedIDs(f.seats...)) {
			t.Errorf("extension %d: got seats %v", i, got.SeatIDs)
		}
	}
	wantReceipt(t, s, "alice extend", "e2", "hold "+h.Token+" until "+h.ExpiresAt.Add(2*minute).UTC().Format(time.RFC3339Nano))
	_, err := extend("alice", "")
	var be *booking.Error
	if !errors.As(err, &be) || !errors.Is(err, booking.ErrLimitReached) {
		t.Errorf("third extension: got %v, want ErrLimitReached", err)
	}
	got, err := s.LookupHold(t.Context(), h.Token)
	if err != nil || got.Extensions != 2 || !sameMillisecond(got.ExpiresAt, h.ExpiresAt.Add(2*minute)) {
		t.Errorf("LookupHold after extensions: got (%+v, %v)", got, err)
	}
	if _, err := s.ExtendHold(t.Context(), booking.ExtendParams{Token: booking.NewID(), UserID: "alice", By: minute, MaxExtensions: 2}); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("extend an unknown hold: got %v, want ErrNotFound", err)
	}
}

func testExtendOutlives(t *testing.T, s Store) {
	f := newShow(t, s, 1, 1)
	h := hold(t, s, f, "alice", 300*time.Millisecond, f.seats[0])
	if _, err := s.ExtendHold(t.Context(), booking.ExtendParams{Token: h.Token, UserID: "alice", By: minute, MaxExtensions: 1}); err != nil {
		t.Fatal(err)
	}
	// Past the original expiry, the seat is still held and no sweep frees it.
	for time.Now().Before(h.ExpiresAt.Add(100 * time.Millisecond)) {
		time.Sleep(20 * time.Millisecond)
	}
	lapses, err := s.ReleaseLapsed(t.Context(), 100)
	if err != nil || len(lapses) != 0 {
		t.Errorf("ReleaseLapsed after the old expiry: got (%v, %v), want nothing", lapses, err)
	}
	wantStatus(t, s, f, booking.StatusHeld, f.seats[0])
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: f.seats}); err != nil {
		t.Errorf("book after the old expiry: %v", err)
	}

	// A lapsed hold cannot be extended.
	g := newShow(t, s, 1, 1)
	l := hold(t, s, g, "alice", time.Millisecond, g.seats[0])
	awaitLapse(t, s, g, g.seats[0])
	_, err = s.ExtendHold(t.Context(), booking.ExtendParams{Token: l.Token, UserID: "alice", By: minute, MaxExtensions: 2})
	if !errors.Is(err, booking.ErrHoldExpired) {
		t.Errorf("extend a lapsed hold: got %v, want ErrHoldExpired", err)
	}
}

func testReleaseHold(t *testing.T, s Store) {
	f := newShow(t, s, 1, 3)
	live := hold(t, s, f, "alice", minute, f.seats[0])
	lapse, err := s.ReleaseHold(t.Context(), live.Token)
	if err != nil || len(lapse.SeatIDs) != 0 || !sameMillisecond(lapse.LiveUntil, live.ExpiresAt) {
		t.Errorf("ReleaseHold of a live hold: got (%+v, %v), want nothing freed, live until %v", lapse, err, live.ExpiresAt)
	}
	wantStatus(t, s, f, booking.StatusHeld, f.seats[0])

	h := hold(t, s, f, "bob", time.Millisecond, f.seats[2], f.seats[1])
	awaitLapse(t, s, f, f.seats[1])
	lapse, err = s.ReleaseHold(t.Context(), h.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sortedIDs(lapse.SeatIDs...), sortedIDs(f.seats[1], f.seats[2])) || lapse.ShowID != f.show.ID ||
		!sameMillisecond(lapse.ExpiredAt, h.ExpiresAt) || !lapse.LiveUntil.IsZero() || lapse.ReleasedAt.Before(lapse.ExpiredAt) {
		t.Errorf("ReleaseHold of a lapsed hold: got %+v, want seats %v freed, expired at %v", lapse, f.seats[1:], h.ExpiresAt)
	}
	ev := events(t, s, f.show.ID)
	wantGaplessEvents(t, ev)
	if last := ev[len(ev)-1]; last.Status != booking.StatusAvailable || last.HoldToken != h.Token {
		t.Errorf("got last event %+v, want seats available from hold %s", last, h.Token)
	}
	// Twice is harmless: another instance got the same notice.
	if again, err := s.ReleaseHold(t.Context(), h.Token); err != nil || len(again.SeatIDs) != 0 || !again.LiveUntil.IsZero() {
		t.Errorf("second ReleaseHold: got (%+v, %v), want nothing", again, err)
	}
	if n := len(events(t, s, f.show.ID)); n != len(ev) {
		t.Errorf("second ReleaseHold logged %d events", n-len(ev))
	}
	// A booked hold has nothing left to free.
	b := hold(t, s, f, "carol", minute, f.seats[1])
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "carol", SeatIDs: f.seats[1:2]}); err != nil {
		t.Fatal(err)
	}
	if lapse, err := s.ReleaseHold(t.Context(), b.Token); err != nil || len(lapse.SeatIDs) != 0 {
		t.Errorf("ReleaseHold of a booked hold: got (%+v, %v)", lapse, err)
	}
	wantStatus(t, s, f, booking.StatusBooked, f.seats[1])
}

func testReleaseLapsed(t *testing.T, s Store) {
	f := newShow(t, s, 1, 4)
	g := newShow(t, s, 1, 2)
	a := hold(t, s, f, "alice", time.Millisecond, f.seats[0], f.seats[1])
	b := hold(t, s, g, "bob", time.Millisecond, g.seats...)
	hold(t, s, f, "carol", minute, f.seats[2])
	awaitLapse(t, s, f, f.seats[0])
	awaitLapse(t, s, g, g.seats[0])

	first, err := s.ReleaseLapsed(t.Context(), 1)
	if err != nil || len(first) != 1 || len(first[0].SeatIDs) != 1 {
		t.Fatalf("ReleaseLapsed(limit 1): got (%+v, %v), want one seat", first, err)
	}
	rest, err := s.ReleaseLapsed(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	freed := map[string][]string{}
	for _, l := range append(first, rest...) {
		for i, seat := range l.SeatIDs {
			freed[l.HoldTokens[i]] = append(freed[l.HoldTokens[i]], seat)
		}
		if l.ExpiredAt.IsZero() || l.ReleasedAt.Before(l.ExpiredAt) {
			t.Errorf("lapse %+v: want ExpiredAt set and before ReleasedAt", l)
		}
	}
	want := map[string][]string{a.Token: sortedIDs(f.seats[0], f.seats[1]), b.Token: sortedIDs(g.seats...)}
	for token := range freed {
		freed[token] = sortedIDs(freed[token]...)
	}
	if diff := cmp.Diff(want, freed); diff != "" {
		t.Errorf("freed seats by hold (-want +got):\n%s", diff)
	}
	wantStatus(t, s, f, booking.StatusHeld, f.seats[2])
	for _, show := range []string{f.show.ID, g.show.ID} {
		wantGaplessEvents(t, events(t, s, show))
	}
	if again, err := s.ReleaseLapsed(t.Context(), 100); err != nil || len(again) != 0 {
		t.Errorf("a second sweep: got (%+v, %v), want nothing", again, err)
	}
}

func testLazyTakeover(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	old := hold(t, s, f, "alice", time.Millisecond, f.seats[0])
	awaitLapse(t, s, f, f.seats[0])
	h := hold(t, s, f, "bob", minute, f.seats...)
	if len(h.Lapsed) != 1 || !sameMillisecond(h.Lapsed[0], old.ExpiresAt) {
		t.Errorf("got Lapsed %v, want the one lapsed hold's expiry %v", h.Lapsed, old.ExpiresAt)
	}
}

// testExpiryRacesBook books holds right around their expiry while sweeps run:
// every seat ends either booked (with its booking) or available, never both,
// and a booked seat is never released afterwards.
func testExpiryRacesBook(t *testing.T, s Store) {
	f := newShow(t, s, 2, 10)
	const ttl = 40 * time.Millisecond
	holds := make([]booking.Hold, len(f.seats))
	for i, seat := range f.seats {
		holds[i] = hold(t, s, f, userN(i), ttl, seat)
	}
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	sweeps.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.ReleaseLapsed(t.Context(), 5); err != nil {
				t.Errorf("ReleaseLapsed: %v", err)
			}
		}
	})
	booked := make([]bool, len(holds))
	race(len(holds), func(i int) {
		r := rand.New(rand.NewPCG(uint64(i), 3))
		time.Sleep(time.Until(holds[i].ExpiresAt.Add(time.Duration(r.IntN(20)-10) * time.Millisecond)))
		_, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: userN(i), HoldToken: holds[i].Token, SeatIDs: holds[i].SeatIDs})
		switch {
		case err == nil:
			booked[i] = true
		case errors.Is(err, booking.ErrHoldExpired), errors.Is(err, booking.ErrSeatUnavailable):
		default:
			t.Errorf("book %d: %v", i, err)
		}
	})
	close(stop)
	sweeps.Wait()
	if _, err := s.ReleaseLapsed(t.Context(), 100); err != nil {
		t.Fatal(err)
	}
	got := statuses(t, s, f)
	for i, h := range holds {
		want := booking.StatusAvailable
		if booked[i] {
			want = booking.StatusBooked
		}
		if got[h.SeatIDs[0]] != want {
			t.Errorf("seat %d: got %s, want %s (booked=%v)", i, got[h.SeatIDs[0]], want, booked[i])
		}
	}
	// In the log, nothing follows a seat's booking.
	ev := events(t, s, f.show.ID)
	wantGaplessEvents(t, ev)
	soldAt := map[string]int64{}
	for _, e := range ev {
		if at, sold := soldAt[e.SeatID]; sold {
			t.Errorf("seat %s: event %+v after its booking at seq %d", e.SeatID, e, at)
		}
		if e.Status == booking.StatusBooked {
			soldAt[e.SeatID] = e.Seq
		}
	}
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// sameMillisecond compares times at the precision both stores keep.
func sameMillisecond(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}
