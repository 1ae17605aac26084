package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"seatmanager/booking"
)

// idem returns an Idempotent whose answer names the result, so that a test can
// tell which change rendered it.
func idem(scope, key string) *booking.Idempotent {
	return &booking.Idempotent{
		Scope: scope, Key: key, Fingerprint: "fp-" + key, TTL: time.Hour,
		Render: func(result any) ([]byte, error) {
			switch r := result.(type) {
			case booking.Hold:
				return []byte("hold " + r.Token + " until " + r.ExpiresAt.UTC().Format(time.RFC3339Nano)), nil
			case booking.Booking:
				return []byte("booking " + r.ID), nil
			case booking.Release:
				return []byte(fmt.Sprintf("release of %d seats", len(r.SeatIDs))), nil
			}
			return nil, fmt.Errorf("unexpected result %T", result)
		},
	}
}

func wantReceipt(t *testing.T, s Store, scope, key, want string) {
	t.Helper()
	r, err := s.Receipt(t.Context(), scope, key)
	if err != nil {
		t.Fatalf("Receipt(%s, %s): %v", scope, key, err)
	}
	if string(r.Response) != want || r.Fingerprint != "fp-"+key || r.Scope != scope || r.Key != key {
		t.Errorf("got receipt %+v (%q), want %q with fingerprint fp-%s", r, r.Response, want, key)
	}
}

func wantNoReceipt(t *testing.T, s Store, scope, key string) {
	t.Helper()
	if r, err := s.Receipt(t.Context(), scope, key); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("Receipt(%s, %s): got (%q, %v), want ErrNotFound", scope, key, r.Response, err)
	}
}

func testReceiptWithChange(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	h, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats, TTL: minute, Idempotent: idem("alice hold", "k1")})
	if err != nil {
		t.Fatal(err)
	}
	wantReceipt(t, s, "alice hold", "k1", "hold "+h.Token+" until "+h.ExpiresAt.UTC().Format(time.RFC3339Nano))
	if _, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[1:], Idempotent: idem("alice release", "k1")}); err != nil {
		t.Fatal(err)
	}
	wantReceipt(t, s, "alice release", "k1", "release of 1 seats")
	b, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[:1], Idempotent: idem("alice book", "k1")})
	if err != nil {
		t.Fatal(err)
	}
	wantReceipt(t, s, "alice book", "k1", "booking "+b.ID)
}

func testReceiptDuplicate(t *testing.T, s Store) {
	f := newShow(t, s, 1, 3)
	first := hold(t, s, f, "alice", minute, f.seats[0])
	if _, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[1:2], TTL: minute, Idempotent: idem("a", "k")}); err != nil {
		t.Fatal(err)
	}
	// Another attempt of key k: whatever it asks, its change is undone.
	for name, try := range map[string]func() error{
		"hold": func() error {
			_, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[2:], TTL: minute, Idempotent: idem("a", "k")})
			return err
		},
		"book": func() error {
			_, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[:1], HoldToken: first.Token, Idempotent: idem("a", "k")})
			return err
		},
		"release": func() error {
			_, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[:1], Idempotent: idem("a", "k")})
			return err
		},
	} {
		if err := try(); !errors.Is(err, booking.ErrDuplicateRequest) {
			t.Errorf("%s under a used key: got %v, want ErrDuplicateRequest", name, err)
		}
	}
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[2])
	wantStatus(t, s, f, booking.StatusHeld, f.seats[0], f.seats[1])
	if ev := events(t, s, f.show.ID); len(ev) != 2 {
		t.Errorf("got %d events, want 2: the undone changes must leave none", len(ev))
	}
}

func testReceiptNotOnFailure(t *testing.T, s Store) {
	f := newShow(t, s, 1, 2)
	hold(t, s, f, "alice", minute, f.seats[0])
	_, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "bob", SeatIDs: f.seats, TTL: minute, Idempotent: idem("b", "k")})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[0])
	wantNoReceipt(t, s, "b", "k")
}

func testReceiptRenderFailure(t *testing.T, s Store) {
	f := newShow(t, s, 1, 1)
	bad := idem("a", "k")
	bad.Render = func(any) ([]byte, error) { return nil, errors.New("cannot render") }
	if _, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats, TTL: minute, Idempotent: bad}); err == nil {
		t.Fatal("got nil error from a change whose answer cannot be rendered")
	}
	wantStatus(t, s, f, booking.StatusAvailable, f.seats...)
	wantNoReceipt(t, s, "a", "k")
}

func testSaveReceipt(t *testing.T, s Store) {
	first := booking.Receipt{Scope: "alice", Key: "k", Fingerprint: "fp-k", Response: []byte{0, 1, 2, 255}}
	got, err := s.SaveReceipt(t.Context(), first, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("first save (-want +got):\n%s", diff)
	}
	second := booking.Receipt{Scope: "alice", Key: "k", Fingerprint: "other", Response: []byte("second")}
	got, err = s.SaveReceipt(t.Context(), second, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("second save must return the first receipt (-want +got):\n%s", diff)
	}
	// Another scope with the same key is another receipt.
	other := booking.Receipt{Scope: "bob", Key: "k", Fingerprint: "fp-k", Response: []byte("bob's")}
	if got, err := s.SaveReceipt(t.Context(), other, time.Hour); err != nil || string(got.Response) != "bob's" {
		t.Errorf("save in another scope: got (%q, %v), want bob's", got.Response, err)
	}
	wantReceipt(t, s, "alice", "k", "\x00\x01\x02\xff")
}

func testReceiptExpiry(t *testing.T, s Store) {
	for i := range 3 {
		if _, err := s.SaveReceipt(t.Context(), booking.Receipt{Scope: "a", Key: fmt.Sprint(i), Fingerprint: "fp", Response: []byte("old")}, time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SaveReceipt(t.Context(), booking.Receipt{Scope: "a", Key: "kept", Fingerprint: "fp-kept", Response: []byte("kept")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, err := s.Receipt(t.Context(), "a", "0"); !errors.Is(err, booking.ErrNotFound); _, err = s.Receipt(t.Context(), "a", "0") {
		if time.Now().After(deadline) {
			t.Fatalf("receipt with a 1ms ttl still there after 5s: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// An expired receipt no longer blocks its key.
	fresh := booking.Receipt{Scope: "a", Key: "0", Fingerprint: "fp-0", Response: []byte("new")}
	if got, err := s.SaveReceipt(t.Context(), fresh, time.Hour); err != nil || string(got.Response) != "new" {
		t.Errorf("save over an expired receipt: got (%q, %v), want new", got.Response, err)
	}
	n, err := s.SweepReceipts(t.Context(), 1)
	if err != nil || n != 1 {
		t.Errorf("SweepReceipts(limit 1): got (%d, %v), want 1", n, err)
	}
	n, err = s.SweepReceipts(t.Context(), 100)
	if err != nil || n != 1 {
		t.Errorf("SweepReceipts(limit 100): got (%d, %v), want the 1 expired receipt left", n, err)
	}
	wantReceipt(t, s, "a", "kept", "kept")
	wantReceipt(t, s, "a", "0", "new")
}

func testSaveReceipts(t *testing.T, s Store) {
	if _, err := s.SaveReceipt(t.Context(), booking.Receipt{Scope: "a", Key: "old", Fingerprint: "fp-old", Response: []byte("first")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	in := []booking.Receipt{
		{Scope: "a", Key: "k1", Fingerprint: "fp-k1", Response: []byte("one")},
		{Scope: "a", Key: "old", Fingerprint: "fp-other", Response: []byte("second")},
		{Scope: "a", Key: "k2", Fingerprint: "fp-k2", Response: []byte("two")},
		{Scope: "a", Key: "k1", Fingerprint: "fp-k1", Response: []byte("one again")},
	}
	stood, err := s.SaveReceipts(t.Context(), in, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range stood {
		got = append(got, r.Key+"="+string(r.Response)+"/"+r.Fingerprint)
	}
	want := []string{"k1=one/fp-k1", "old=first/fp-old", "k2=two/fp-k2", "k1=one/fp-k1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("receipts that stand (-want +got):\n%s", diff)
	}
	wantReceipt(t, s, "a", "k1", "one")
	wantReceipt(t, s, "a", "k2", "two")
	wantReceipt(t, s, "a", "old", "first")
	if stood, err := s.SaveReceipts(t.Context(), nil, time.Hour); err != nil || len(stood) != 0 {
		t.Errorf("SaveReceipts of none: got (%v, %v)", stood, err)
	}
}
