package booking_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/memory"
)

// quiet is a logger for services whose repairs the test does not read.
var quiet = slog.New(slog.DiscardHandler)

// wantHeldBy fails unless the gate says token has seatID.
func wantHeldBy(t *testing.T, gate booking.Gate, seatID, token string) {
	t.Helper()
	claims, err := gate.Acquire(t.Context(), "show", booking.NewID(), []string{seatID}, time.Minute)
	if err != nil || len(claims) != 1 || claims[0].Token != token {
		t.Errorf("gate claims on seat %s: got (%+v, %v), want one of token %s", seatID, claims, err, token)
	}
}

// TestStaleClaimRepaired: a key left in the gate by a request that never
// reached the database (a crash, a timed-out call that Redis ran later)
// must not turn a buyer of a free seat away: the database contradicts it, the
// key is removed and the buyer gets the seat.
func TestStaleClaimRepaired(t *testing.T) {
	store, seats := newStore(t)
	gate := memory.NewGate()
	var repaired []int
	svc := booking.NewService(store, gate, nil, booking.Config{Logger: quiet, ClaimGrace: time.Millisecond,
		OnRepair: func(n int) { repaired = append(repaired, n) }})
	stale := booking.NewID()
	if claims, err := gate.Acquire(t.Context(), "show", stale, seats[:2], time.Minute); err != nil || len(claims) != 0 {
		t.Fatalf("stale key: got (%v, %v)", claims, err)
	}
	time.Sleep(2 * time.Millisecond) // the claim must be older than ClaimGrace
	h, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[1:3]})
	if err != nil {
		t.Fatalf("hold of free seats behind a stale key: got %v, want the seats", err)
	}
	if len(repaired) != 1 || repaired[0] != 1 {
		t.Errorf("repairs: got %v, want one of 1 claim", repaired)
	}
	wantHeldBy(t, gate, seats[1], h.Token)
	// Only the claim that stood in the way was touched.
	wantHeldBy(t, gate, seats[0], stale)
}

// TestYoungClaimAwaited: a claim the database does not know yet may be a hold
// on its way there from another instance; it is looked at again until it is
// older than ClaimGrace, and only then removed.
func TestYoungClaimAwaited(t *testing.T) {
	store, seats := newStore(t)
	gate := memory.NewGate()
	const grace = 150 * time.Millisecond
	svc := booking.NewService(store, gate, nil, booking.Config{Logger: quiet, ClaimGrace: grace})
	gate.Acquire(t.Context(), "show", booking.NewID(), seats[:1], time.Minute)
	start := time.Now()
	reads := store.reads.Load()
	if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:1]}); err != nil {
		t.Fatalf("hold behind a young stale key: %v", err)
	}
	if d := time.Since(start); d < grace {
		t.Errorf("hold took %v, want at least the grace of %v", d, grace)
	}
	if n := store.reads.Load() - reads; n < 2 {
		t.Errorf("database reads while the claim was young: got %d, want it looked at again", n)
	}
}

// TestClaimConfirmedByDatabase: a key whose seat the database has taken (by
// another hold than the key's) is a refusal the database would give; it is
// answered, and the key stays.
func TestClaimConfirmedByDatabase(t *testing.T) {
	store, seats := newStore(t)
	gate := memory.NewGate()
	svc := booking.NewService(store, gate, nil, booking.Config{Logger: quiet, ClaimGrace: time.Millisecond})
	if _, err := store.Store.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: showOf(t, store, seats[0]),
		UserID: "alice", SeatIDs: seats[:1], TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	other := booking.NewID()
	gate.Acquire(t.Context(), "show", other, seats[:1], time.Minute)
	time.Sleep(2 * time.Millisecond)
	_, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:2]})
	var be *booking.Error
	if !errors.As(err, &be) || !errors.Is(err, booking.ErrSeatUnavailable) || len(be.SeatIDs) != 1 || be.SeatIDs[0] != seats[0] {
		t.Fatalf("got %v, want ErrSeatUnavailable naming %s", err, seats[0])
	}
	wantHeldBy(t, gate, seats[0], other)
}

// blockingGate lets a chosen token's Acquire set its keys and then waits, so
// that a test can line other requests up behind a hold in flight.
type blockingGate struct {
	*memory.Gate
	mu      sync.Mutex
	blocked chan struct{} // closed once the first token has its keys
	resume  chan struct{}
	first   string
	refused int // calls answered with claims
}

func (g *blockingGate) Acquire(ctx context.Context, showID, token string, seatIDs []string, ttl time.Duration) ([]booking.Claim, error) {
	claims, err := g.Gate.Acquire(ctx, showID, token, seatIDs, ttl)
	g.mu.Lock()
	isFirst := g.first == ""
	if isFirst && len(claims) == 0 && err == nil {
		g.first = token
	}
	if len(claims) > 0 {
		g.refused++
	}
	g.mu.Unlock()
	if isFirst {
		close(g.blocked)
		<-g.resume
	}
	return claims, err
}

func (g *blockingGate) refusals() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refused
}

// TestRefusalConfirmedByHoldInFlight: buyers turned away by a hold this
// instance is still making wait for it, and once it commits they are answered
// without reading the database: that hold was made while they waited.
func TestRefusalConfirmedByHoldInFlight(t *testing.T) {
	store, seats := newStore(t)
	gate := &blockingGate{Gate: memory.NewGate(), blocked: make(chan struct{}), resume: make(chan struct{})}
	svc := booking.NewService(store, gate, nil, booking.Config{Logger: quiet})
	winner := make(chan error, 1)
	go func() {
		_, err := svc.Hold(context.Background(), booking.HoldRequest{UserID: "winner", SeatIDs: seats[:1]})
		winner <- err
	}()
	<-gate.blocked
	reads := store.reads.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "loser", SeatIDs: seats[:1]})
			errs <- err
		})
	}
	// Once the gate has turned every loser away, they wait for the winner;
	// let it reach the database.
	deadline := time.Now().Add(10 * time.Second)
	for gate.refusals() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the gate turned %d losers away in 10s, want 20", gate.refusals())
		}
		time.Sleep(time.Millisecond)
	}
	close(gate.resume)
	if err := <-winner; err != nil {
		t.Fatalf("winner: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, booking.ErrSeatUnavailable) {
			t.Errorf("loser: got %v, want ErrSeatUnavailable", err)
		}
	}
	if n := store.reads.Load() - reads; n != 0 {
		t.Errorf("losers read the database %d times, want 0: the hold they waited for answers them", n)
	}
	// A buyer who comes after the hold was made is answered by the database.
	_, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "late", SeatIDs: seats[:1]})
	if !errors.Is(err, booking.ErrSeatUnavailable) || store.reads.Load()-reads != 1 {
		t.Errorf("late buyer: got %v after %d reads, want ErrSeatUnavailable after one read", err, store.reads.Load()-reads)
	}
}

// TestRefusalNamesLabels: a refusal names each seat by its label too.
func TestRefusalNamesLabels(t *testing.T) {
	store, seats := newStore(t)
	svc := booking.NewService(store, memory.NewGate(), nil, booking.Config{Logger: quiet})
	if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "alice", SeatIDs: seats[1:2]}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:2]})
	var be *booking.Error
	if !errors.As(err, &be) || len(be.Labels) != 1 || be.Labels[0] != "A2" || !strings.Contains(be.Detail, "A2 ("+seats[1]+")") {
		t.Errorf("got %#v, want the refusal to name A2 and its id", err)
	}
	_, err = svc.Book(t.Context(), booking.BookRequest{UserID: "bob", SeatIDs: seats[1:2]})
	if !errors.As(err, &be) || !strings.Contains(be.Detail, "A2 ("+seats[1]+")") {
		t.Errorf("book of another's seat: got %v, want it named A2", err)
	}
}

// ageless is a gate that cannot tell its claims' ages, as Redis cannot for a
// key an extension refreshed beyond a hold TTL.
type ageless struct{ *memory.Gate }

func (g ageless) Acquire(ctx context.Context, showID, token string, seatIDs []string, ttl time.Duration) ([]booking.Claim, error) {
	claims, err := g.Gate.Acquire(ctx, showID, token, seatIDs, ttl)
	for i := range claims {
		claims[i].Age = 0
	}
	return claims, err
}

// TestAgelessClaimRepaired: a stale claim whose age the gate cannot tell is
// repaired once the buyer has seen it for ClaimGrace, not waited on forever.
func TestAgelessClaimRepaired(t *testing.T) {
	store, seats := newStore(t)
	gate := ageless{memory.NewGate()}
	const grace = 100 * time.Millisecond
	svc := booking.NewService(store, gate, nil, booking.Config{Logger: quiet, ClaimGrace: grace})
	gate.Acquire(t.Context(), "show", booking.NewID(), seats[:1], time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := svc.Hold(ctx, booking.HoldRequest{UserID: "bob", SeatIDs: seats[:1]}); err != nil {
		t.Fatalf("hold behind an ageless stale key: %v after %v", err, time.Since(start))
	}
	if d := time.Since(start); d < grace {
		t.Errorf("hold took %v, want at least the grace of %v", d, grace)
	}
}

// TestRefusedHoldKeepsTheTakenSeatsKeys: a hold the database refuses keeps
// the gate keys of the seats it named as someone else's, so the buyers after
// it are still turned away at the gate, and gives back the others.
func TestRefusedHoldKeepsTheTakenSeatsKeys(t *testing.T) {
	store, seats := newStore(t)
	gate := memory.NewGate()
	svc := booking.NewService(store, gate, nil, booking.Config{Logger: quiet})
	// Alice's hold is in the database only, as after Redis lost its keys.
	if _, err := store.Store.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: showOf(t, store, seats[0]),
		UserID: "alice", SeatIDs: seats[:1], TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "bob", SeatIDs: seats[:2]}); !errors.Is(err, booking.ErrSeatUnavailable) {
		t.Fatalf("got %v, want ErrSeatUnavailable from the database", err)
	}
	holds := store.holds.Load()
	for range 20 {
		if _, err := svc.Hold(t.Context(), booking.HoldRequest{UserID: "carol", SeatIDs: seats[:1]}); !errors.Is(err, booking.ErrSeatUnavailable) {
			t.Fatalf("got %v, want ErrSeatUnavailable", err)
		}
	}
	if n := store.holds.Load() - holds; n != 0 {
		t.Errorf("%d of 20 refused buyers reached the store's Hold, want none: the gate still has the seat", n)
	}
	if claims, _ := gate.Acquire(t.Context(), "show", booking.NewID(), seats[1:2], time.Minute); len(claims) != 0 {
		t.Errorf("the seat bob did not get is still claimed: %v", claims)
	}
}
