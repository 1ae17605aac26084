package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"seatmanager/booking"
)

const minute = time.Minute

func testCreateShow(t *testing.T, s Store) {
	f := newShow(t, s, 2, 3)
	again, err := s.CreateShow(t.Context(), f.show)
	if err != nil || again {
		t.Errorf("CreateShow of an existing id: got (%v, %v), want (false, nil)", again, err)
	}
	shows, err := s.Shows(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []booking.Show{{
		ID: f.show.ID, MovieTitle: f.show.MovieTitle, StartsAt: f.show.StartsAt,
		Auditorium: f.show.Auditorium, SeatsTotal: 6, SeatsAvailable: 6,
	}}
	if diff := cmp.Diff(want, shows, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("Shows (-want +got):\n%s", diff)
	}
	m, err := s.SeatMap(t.Context(), f.show.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != 0 || len(m.Seats) != 6 {
		t.Errorf("SeatMap: got seq %d and %d seats, want 0 and 6", m.Seq, len(m.Seats))
	}
	got, err := s.SeatShows(t.Context(), append(f.seats[:2:2], booking.NewID()))
	if err != nil {
		t.Fatal(err)
	}
	wantRefs := map[string]booking.SeatRef{f.seats[0]: {ShowID: f.show.ID, Label: "A1"}, f.seats[1]: {ShowID: f.show.ID, Label: "A2"}}
	if diff := cmp.Diff(wantRefs, got); diff != "" {
		t.Errorf("SeatShows (-want +got):\n%s", diff)
	}
}

func testSeatMapOrder(t *testing.T, s Store) {
	show := booking.NewShow{ID: booking.NewID(), MovieTitle: "Order", StartsAt: time.Now().UTC(), Auditorium: "2"}
	// Inserted out of order, and with a row "AA" that must sort after "B".
	for _, seat := range []booking.NewSeat{{Row: "B", Number: 10}, {Row: "AA", Number: 1}, {Row: "B", Number: 2}, {Row: "A", Number: 1}} {
		seat.ID, seat.Category = booking.NewID(), "standard"
		show.Seats = append(show.Seats, seat)
	}
	if _, err := s.CreateShow(t.Context(), show); err != nil {
		t.Fatal(err)
	}
	m, err := s.SeatMap(t.Context(), show.ID)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, seat := range m.Seats {
		labels = append(labels, seat.Label)
		if seat.ShowID != show.ID || seat.Category != "standard" || seat.Status != booking.StatusAvailable {
			t.Errorf("seat %s: got %+v", seat.Label, seat)
		}
	}
	if diff := cmp.Diff([]string{"A1", "B2", "B10", "AA1"}, labels); diff != "" {
		t.Errorf("seat order (-want +got):\n%s", diff)
	}
}

func testShowsCounts(t *testing.T, s Store) {
	f := newShow(t, s, 1, 4)
	hold(t, s, f, "u1", minute, f.seats[0], f.seats[1])
	h := hold(t, s, f, "u2", minute, f.seats[2])
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "u2", HoldToken: h.Token, SeatIDs: f.seats[2:3]}); err != nil {
		t.Fatal(err)
	}
	hold(t, s, f, "u3", time.Millisecond, f.seats[3])
	awaitLapse(t, s, f, f.seats[3])
	shows, err := s.Shows(t.Context())
	if err != nil || len(shows) != 1 {
		t.Fatalf("Shows: got %v, %v", shows, err)
	}
	if shows[0].SeatsTotal != 4 || shows[0].SeatsAvailable != 1 {
		t.Errorf("got %d of %d seats available, want 1 of 4 (two held, one booked, one lapsed)", shows[0].SeatsAvailable, shows[0].SeatsTotal)
	}
}

func testHold(t *testing.T, s Store) {
	f := newShow(t, s, 2, 5)
	before := time.Now()
	p := booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "alice", SeatIDs: []string{f.seats[3], f.seats[1]}, TTL: minute}
	h, err := s.Hold(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if h.Token != p.Token || h.UserID != "alice" || h.ShowID != f.show.ID || h.Version < 1 {
		t.Errorf("got hold %+v, want token %s of alice on show %s", h, p.Token, f.show.ID)
	}
	if diff := cmp.Diff(p.SeatIDs, h.SeatIDs); diff != "" {
		t.Errorf("hold seats (-want +got):\n%s", diff)
	}
	// The database clock decides; allow for clock granularity and a slow machine.
	if lo, hi := before.Add(minute-time.Second), time.Now().Add(minute+time.Second); h.ExpiresAt.Before(lo) || h.ExpiresAt.After(hi) {
		t.Errorf("got expiry %v, want between %v and %v", h.ExpiresAt, lo, hi)
	}
	wantStatus(t, s, f, booking.StatusHeld, f.seats[1], f.seats[3])
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[0], f.seats[2])

	ev := events(t, s, f.show.ID)
	if len(ev) != 2 {
		t.Fatalf("got %d events, want 2", len(ev))
	}
	wantGaplessEvents(t, ev)
	for _, e := range ev {
		if e.Status != booking.StatusHeld || e.HoldToken != h.Token || e.BookingID != "" {
			t.Errorf("got event %+v, want held under %s", e, h.Token)
		}
	}
	if m, _ := s.SeatMap(t.Context(), f.show.ID); m.Seq != 2 {
		t.Errorf("got seat map seq %d, want 2", m.Seq)
	}
}

func testHoldConflict(t *testing.T, s Store) {
	f := newShow(t, s, 1, 6)
	hold(t, s, f, "alice", minute, f.seats[1], f.seats[3])
	_, err := s.Hold(t.Context(), booking.HoldParams{
		Token: booking.NewID(), ShowID: f.show.ID, UserID: "bob", TTL: minute,
		SeatIDs: []string{f.seats[0], f.seats[3], f.seats[2], f.seats[1]},
	})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[3], f.seats[1])
	// Nothing of the refused request stuck: its free seats are still free, and
	// only alice's hold is in the log.
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[0], f.seats[2])
	if ev := events(t, s, f.show.ID); len(ev) != 2 {
		t.Errorf("got %d events, want 2", len(ev))
	}
	// The same user holding a seat again is also refused: extension is explicit.
	_, err = s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "alice", TTL: minute, SeatIDs: f.seats[1:2]})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[1])
}

func testHoldAfterLapse(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	hold(t, s, f, "alice", time.Millisecond, f.seats[0])
	awaitLapse(t, s, f, f.seats[0])
	h := hold(t, s, f, "bob", minute, f.seats[0], f.seats[1])
	wantStatus(t, s, f, booking.StatusHeld, f.seats...)
	// Alice can neither book nor release what bob now holds.
	_, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[:1]})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[0])
	_, err = s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[:1]})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[0])
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "bob", HoldToken: h.Token, SeatIDs: f.seats}); err != nil {
		t.Errorf("bob books: %v", err)
	}
}

func testBook(t *testing.T, s Store) {
	f := newShow(t, s, 1, 4)
	h := hold(t, s, f, "alice", minute, f.seats[0], f.seats[2])
	p := booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: []string{f.seats[2], f.seats[0]}}
	before := time.Now()
	b, err := s.Book(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != p.BookingID || b.ShowID != f.show.ID || b.UserID != "alice" {
		t.Errorf("got booking %+v, want %s by alice", b, p.BookingID)
	}
	if diff := cmp.Diff(p.SeatIDs, b.SeatIDs); diff != "" {
		t.Errorf("booked seats (-want +got):\n%s", diff)
	}
	if b.BookedAt.Before(before.Add(-time.Second)) || b.BookedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("got booking time %v, want about %v", b.BookedAt, before)
	}
	wantStatus(t, s, f, booking.StatusBooked, f.seats[0], f.seats[2])
	ev := events(t, s, f.show.ID)
	wantGaplessEvents(t, ev)
	if len(ev) != 4 {
		t.Fatalf("got %d events, want 4", len(ev))
	}
	for _, e := range ev[2:] {
		if e.Status != booking.StatusBooked || e.BookingID != b.ID {
			t.Errorf("got event %+v, want booked as %s", e, b.ID)
		}
	}
	// Booking without naming the hold works too, for seats the user holds.
	hold(t, s, f, "alice", minute, f.seats[1])
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[1:2]}); err != nil {
		t.Errorf("book without hold token: %v", err)
	}
}

func testBookRefusals(t *testing.T, s Store) {
	f := newShow(t, s, 1, 4)
	h := hold(t, s, f, "alice", minute, f.seats[0], f.seats[1])
	for name, p := range map[string]booking.BookParams{
		"another user":           {UserID: "bob", SeatIDs: f.seats[:1]},
		"another user, token":    {UserID: "bob", HoldToken: h.Token, SeatIDs: f.seats[:1]},
		"a wrong token":          {UserID: "alice", HoldToken: booking.NewID(), SeatIDs: f.seats[:1]},
		"free seat among held":   {UserID: "alice", HoldToken: h.Token, SeatIDs: []string{f.seats[0], f.seats[2]}},
		"only seats never held":  {UserID: "alice", SeatIDs: f.seats[2:4]},
		"seat of someone's hold": {UserID: "alice", SeatIDs: []string{f.seats[1], f.seats[3]}},
	} {
		t.Run(name, func(t *testing.T) {
			p.BookingID, p.ShowID = booking.NewID(), f.show.ID
			_, err := s.Book(t.Context(), p)
			var want []string
			for _, id := range p.SeatIDs {
				if !(p.UserID == "alice" && (p.HoldToken == "" || p.HoldToken == h.Token) && (id == f.seats[0] || id == f.seats[1])) {
					want = append(want, id)
				}
			}
			wantSeatError(t, err, booking.ErrSeatUnavailable, want...)
		})
	}
	// None of that changed anything.
	wantStatus(t, s, f, booking.StatusHeld, f.seats[0], f.seats[1])
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[2], f.seats[3])
	if ev := events(t, s, f.show.ID); len(ev) != 2 {
		t.Errorf("got %d events, want 2", len(ev))
	}
}

// testBookAfterLapse: a book refused because the buyer's hold lapsed says so
// (410) while its seats are still to be had, and names the seats someone
// else has (409) once any is taken; the same on every store (booking.BookRefusal).
func testBookAfterLapse(t *testing.T, s Store) {
	f := newShow(t, s, 1, 3)
	h := hold(t, s, f, "alice", time.Millisecond, f.seats[0], f.seats[1])
	awaitLapse(t, s, f, f.seats[0])
	book := func(user, token string, seats ...string) error {
		_, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: user, HoldToken: token, SeatIDs: seats})
		return err
	}
	wantSeatError(t, book("alice", "", f.seats[:2]...), booking.ErrHoldExpired, f.seats[0], f.seats[1])
	wantSeatError(t, book("alice", h.Token, f.seats[:2]...), booking.ErrHoldExpired, f.seats[0], f.seats[1])
	// Released by the sweep, the seats are free: her token still tells her
	// that her hold lapsed; without it, they were never hers as far as the
	// store can tell.
	if _, err := s.ReleaseLapsed(t.Context(), 100); err != nil {
		t.Fatal(err)
	}
	wantSeatError(t, book("alice", h.Token, f.seats[:2]...), booking.ErrHoldExpired, f.seats[0], f.seats[1])
	wantSeatError(t, book("alice", "", f.seats[:2]...), booking.ErrSeatUnavailable, f.seats[0], f.seats[1])
	// Once bob holds one of them, that one is simply not hers: holding again
	// cannot help.
	bob := hold(t, s, f, "bob", minute, f.seats[1])
	wantSeatError(t, book("alice", h.Token, f.seats[:2]...), booking.ErrSeatUnavailable, f.seats[1])
	wantSeatError(t, book("alice", "", f.seats[:2]...), booking.ErrSeatUnavailable, f.seats[0], f.seats[1])
	// And once he has bought it.
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "bob", HoldToken: bob.Token, SeatIDs: f.seats[1:2]}); err != nil {
		t.Fatal(err)
	}
	wantSeatError(t, book("alice", h.Token, f.seats[:2]...), booking.ErrSeatUnavailable, f.seats[1])
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[0])
	wantStatus(t, s, f, booking.StatusBooked, f.seats[1])
}

// testBookAfterLapseTakenOver: the case before any release: alice's
// hold lapses, bob holds and books one of her seats (which takes it over
// lazily), alice books both with her old token: 409 naming bob's seat.
func testBookAfterLapseTakenOver(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	h := hold(t, s, f, "alice", time.Millisecond, f.seats...)
	awaitLapse(t, s, f, f.seats[0])
	bob := hold(t, s, f, "bob", minute, f.seats[1])
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "bob", HoldToken: bob.Token, SeatIDs: f.seats[1:]}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: f.seats})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[1])
}

func testBookedStaysBooked(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	h := hold(t, s, f, "alice", minute, f.seats[0])
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: f.seats[:1]}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "bob", TTL: minute, SeatIDs: f.seats})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[0])
	_, err = s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: f.seats[:1]})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[0])
	_, err = s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[:1]})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[0])
	wantStatus(t, s, f, booking.StatusBooked, f.seats[0])
}

func testRelease(t *testing.T, s Store) {
	f := newShow(t, s, 1, 3)
	h1 := hold(t, s, f, "alice", minute, f.seats[0])
	h2 := hold(t, s, f, "alice", minute, f.seats[1])
	r, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", SeatIDs: []string{f.seats[1], f.seats[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{f.seats[1], f.seats[0]}, r.SeatIDs); diff != "" {
		t.Errorf("released seats (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{h2.Token, h1.Token}, r.HoldTokens); diff != "" {
		t.Errorf("released holds (-want +got):\n%s", diff)
	}
	if r.ShowID != f.show.ID || r.ReleasedAt.IsZero() {
		t.Errorf("got release %+v", r)
	}
	wantStatus(t, s, f, booking.StatusAvailable, f.seats...)
	ev := events(t, s, f.show.ID)
	wantGaplessEvents(t, ev)
	if len(ev) != 4 || ev[2].Status != booking.StatusAvailable || ev[3].Status != booking.StatusAvailable {
		t.Errorf("got events %+v, want two holds then two releases", ev)
	}
	// A seat that is not held cannot be released; neither can half a request.
	hold(t, s, f, "alice", minute, f.seats[0])
	_, err = s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", SeatIDs: []string{f.seats[0], f.seats[2]}})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[2])
	wantStatus(t, s, f, booking.StatusHeld, f.seats[0])
}

func testReleaseFreesForOthers(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	hold(t, s, f, "alice", minute, f.seats...)
	_, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "bob", SeatIDs: f.seats})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats...)
	if _, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats}); err != nil {
		t.Fatal(err)
	}
	hold(t, s, f, "bob", minute, f.seats...)
}

func testHoldTokenFencesRelease(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	old := hold(t, s, f, "alice", minute, f.seats[0])
	if _, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", HoldToken: old.Token, SeatIDs: f.seats[:1]}); err != nil {
		t.Fatal(err)
	}
	hold(t, s, f, "alice", minute, f.seats[0])
	// A retry of the first release, naming the old hold, must not free the new one.
	_, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", HoldToken: old.Token, SeatIDs: f.seats[:1]})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[0])
	wantStatus(t, s, f, booking.StatusHeld, f.seats[0])
}

func testHoldOtherShow(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	g := newShow(t, s, 1, 2)
	// A store trusts the show it is given; a seat of another show does not match.
	_, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "alice", TTL: minute, SeatIDs: []string{f.seats[0], g.seats[0]}})
	wantSeatError(t, err, booking.ErrSeatUnavailable, g.seats[0])
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[0])
}

func testUnknown(t *testing.T, s Store) {
	if _, err := s.SeatMap(t.Context(), booking.NewID()); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("SeatMap of an unknown show: got %v, want ErrNotFound", err)
	}
	got, err := s.SeatShows(t.Context(), []string{booking.NewID()})
	if err != nil || len(got) != 0 {
		t.Errorf("SeatShows of unknown seats: got (%v, %v), want empty", got, err)
	}
	shows, err := s.Shows(t.Context())
	if err != nil || len(shows) != 0 {
		t.Errorf("Shows of an empty store: got (%v, %v), want none", shows, err)
	}
}

func testEventsPerShow(t *testing.T, s Store) {
	f := newShow(t, s, 1, 3)
	g := newShow(t, s, 1, 3)
	hold(t, s, f, "alice", minute, f.seats[0])
	hold(t, s, g, "bob", minute, g.seats[0], g.seats[1])
	hold(t, s, f, "alice", minute, f.seats[1], f.seats[2])
	for show, want := range map[string]int{f.show.ID: 3, g.show.ID: 2} {
		ev := events(t, s, show)
		wantGaplessEvents(t, ev)
		if len(ev) != want {
			t.Errorf("show %s: got %d events, want %d", show, len(ev), want)
		}
	}
	after, err := s.Events(t.Context(), f.show.ID, 1, 1)
	if err != nil || len(after) != 1 || after[0].Seq != 2 {
		t.Errorf("Events after seq 1, limit 1: got (%+v, %v), want the event of seq 2", after, err)
	}
}

func testTakenSeats(t *testing.T, s Store) {
	f := newShow(t, s, 1, 5)
	alice := hold(t, s, f, "alice", minute, f.seats[0])
	h := hold(t, s, f, "bob", minute, f.seats[1])
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "bob", HoldToken: h.Token, SeatIDs: f.seats[1:2]}); err != nil {
		t.Fatal(err)
	}
	hold(t, s, f, "carol", time.Millisecond, f.seats[2])
	awaitLapse(t, s, f, f.seats[2])
	got, err := s.TakenSeats(t.Context(), append(f.seats, booking.NewID()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]booking.Taken{
		f.seats[0]: {ShowID: f.show.ID, UserID: "alice", Until: alice.ExpiresAt},
		f.seats[1]: {ShowID: f.show.ID, UserID: "bob"},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("taken seats (-want +got):\n%s", diff)
	}
}

// testEndedHolds: a book or release tells which holds it left without seats,
// and only those: a hold with seats still held has not ended.
func testEndedHolds(t *testing.T, s Store) {
	f := newShow(t, s, 1, 6)
	h := hold(t, s, f, "alice", minute, f.seats[0], f.seats[1], f.seats[2])
	r, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: f.seats[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Ended) != 0 {
		t.Errorf("release of one of a hold's three seats: ended %v, want none", r.Ended)
	}
	bk, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: f.seats[1:2]})
	if err != nil {
		t.Fatal(err)
	}
	if len(bk.Ended) != 0 {
		t.Errorf("book of one of the hold's two seats left: ended %v, want none", bk.Ended)
	}
	bk, err = s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: f.seats[2:3]})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bk.Ended, []string{h.Token}) {
		t.Errorf("book of the hold's last seat: ended %v, want [%s]", bk.Ended, h.Token)
	}
	other := hold(t, s, f, "bob", minute, f.seats[3], f.seats[4])
	r, err = s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "bob", SeatIDs: f.seats[3:5]})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Ended, []string{other.Token}) {
		t.Errorf("release of all of a hold's seats: ended %v, want [%s]", r.Ended, other.Token)
	}
}
