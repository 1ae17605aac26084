// Package gatetest is the conformance suite every booking.Gate must pass. The
// memory and redis gates both run it, so that the embedded default and the
// production gate cannot drift apart in what the Service may rely on.
package gatetest

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"seatmanager/booking"
)

// longTTL outlives every test, so that only the tests about expiry see keys expire.
const longTTL = time.Minute

// Run runs the suite as subtests of t. newGate is called once per subtest and must
// return a gate that shares no keys with the gates of other subtests (for Redis: a
// key prefix of its own), so that subtests can run in any order.
func Run(t *testing.T, newGate func(t *testing.T) booking.Gate) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, g booking.Gate)
	}{
		{"AcquireFree", testAcquireFree},
		{"AcquireNone", testAcquireNone},
		{"AllOrNothing", testAllOrNothing},
		{"ClaimsNameTheirTokens", testClaims},
		{"ReacquireOwn", testReacquireOwn},
		{"ReacquireRefreshesTTL", testReacquireRefreshesTTL},
		{"ReleaseOwnOnly", testReleaseOwnOnly},
		{"ReleaseUnknown", testReleaseUnknown},
		{"Expiry", testExpiry},
		{"ShowsIndependent", testShowsIndependent},
		{"NonPositiveTTL", testNonPositiveTTL},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newGate(t))
		})
	}
}

// ids returns n fresh ids.
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = booking.NewID()
	}
	return out
}

// mustAcquire acquires seats for token and returns the seats the gate says
// are taken.
func mustAcquire(tb testing.TB, g booking.Gate, showID, token string, seatIDs []string, ttl time.Duration) []string {
	tb.Helper()
	claims, err := g.Acquire(tb.Context(), showID, token, seatIDs, ttl)
	if err != nil {
		tb.Fatalf("Acquire(%v): got error %v, want nil", seatIDs, err)
	}
	return claimedSeats(claims)
}

func claimedSeats(claims []booking.Claim) []string {
	var seats []string
	for _, c := range claims {
		seats = append(seats, c.SeatID)
	}
	return seats
}

// wantTaken acquires seats for token and fails unless exactly want is taken.
func wantTaken(tb testing.TB, g booking.Gate, showID, token string, seatIDs []string, want []string) {
	tb.Helper()
	got := mustAcquire(tb, g, showID, token, seatIDs, longTTL)
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		tb.Errorf("Acquire(%v) taken: got %v, want %v (-want +got):\n%s", seatIDs, got, want, diff)
	}
}

func mustRelease(tb testing.TB, g booking.Gate, showID, token string, seatIDs []string) {
	tb.Helper()
	if err := g.Release(tb.Context(), showID, token, seatIDs); err != nil {
		tb.Fatalf("Release(%v): got error %v, want nil", seatIDs, err)
	}
}

func testAcquireFree(t *testing.T, g booking.Gate) {
	show, seats := booking.NewID(), ids(4)
	wantTaken(t, g, show, booking.NewID(), seats, nil)
	// The seats are now held: another token must be turned away from every one.
	wantTaken(t, g, show, booking.NewID(), seats, seats)
}

func testAcquireNone(t *testing.T, g booking.Gate) {
	// An empty request holds nothing and so can conflict with nothing.
	wantTaken(t, g, booking.NewID(), booking.NewID(), nil, nil)
	mustRelease(t, g, booking.NewID(), booking.NewID(), nil)
}

func testAllOrNothing(t *testing.T, g booking.Gate) {
	show, seats := booking.NewID(), ids(6)
	a, b, c := booking.NewID(), booking.NewID(), booking.NewID()
	// a holds seats 1 and 4; b asks for all six in an order that is not the order
	// in which a acquired them, so that "request order" is actually tested.
	wantTaken(t, g, show, a, []string{seats[4], seats[1]}, nil)
	request := []string{seats[0], seats[1], seats[2], seats[3], seats[4], seats[5]}
	wantTaken(t, g, show, b, request, []string{seats[1], seats[4]})
	// b must have taken none of the free seats: c can have all four of them.
	free := []string{seats[5], seats[3], seats[2], seats[0]}
	wantTaken(t, g, show, c, free, nil)
}

// testClaims: a refusal says which token has each seat and since when, so
// that the Service can tell a claim the database contradicts from one whose
// hold is still on its way.
func testClaims(t *testing.T, g booking.Gate) {
	show, seats := booking.NewID(), ids(3)
	a, b := booking.NewID(), booking.NewID()
	wantTaken(t, g, show, a, seats[:1], nil)
	start := time.Now()
	wantTaken(t, g, show, b, seats[2:], nil)
	const pause = 60 * time.Millisecond
	waitUntil(t, start.Add(pause))
	claims, err := g.Acquire(t.Context(), show, booking.NewID(), []string{seats[2], seats[1], seats[0]}, longTTL)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 2 || claims[0].SeatID != seats[2] || claims[0].Token != b || claims[1].SeatID != seats[0] || claims[1].Token != a {
		t.Fatalf("got claims %+v, want seat 2 by b then seat 0 by a", claims)
	}
	for _, c := range claims {
		// The gate's clock may count in milliseconds, and its answer took time.
		if c.Age < pause-2*time.Millisecond || c.Age > time.Since(start)+time.Second {
			t.Errorf("claim of seat %s: got age %v, want about %v or more", c.SeatID, c.Age, pause)
		}
	}
}

func testReacquireOwn(t *testing.T, g booking.Gate) {
	show, seats := booking.NewID(), ids(3)
	a := booking.NewID()
	wantTaken(t, g, show, a, seats[:2], nil)
	// Asking again, even with a seat more, is not a conflict with oneself.
	wantTaken(t, g, show, a, seats, nil)
	wantTaken(t, g, show, booking.NewID(), seats, seats)
}

func testReacquireRefreshesTTL(t *testing.T, g booking.Gate) {
	const short = 50 * time.Millisecond
	show, seats := booking.NewID(), ids(2)
	a := booking.NewID()
	start := time.Now()
	if got := mustAcquire(t, g, show, a, seats, short); len(got) != 0 {
		t.Fatalf("Acquire taken: got %v, want none", got)
	}
	// The holder extends its hold by acquiring again: the new ttl replaces the old.
	if got := mustAcquire(t, g, show, a, seats, longTTL); len(got) != 0 {
		t.Fatalf("re-Acquire taken: got %v, want none", got)
	}
	// Showing that a key did not expire takes waiting past the time it would have;
	// there is no event to poll for.
	waitUntil(t, start.Add(4*short))
	wantTaken(t, g, show, booking.NewID(), seats, seats)
}

func testReleaseOwnOnly(t *testing.T, g booking.Gate) {
	show, seats := booking.NewID(), ids(4)
	a, b, c := booking.NewID(), booking.NewID(), booking.NewID()
	wantTaken(t, g, show, a, seats[:2], nil)
	wantTaken(t, g, show, b, seats[2:], nil)
	// a releases all four; only its own two may go, b's must stay b's.
	mustRelease(t, g, show, a, seats)
	wantTaken(t, g, show, c, seats, seats[2:])
	wantTaken(t, g, show, c, seats[:2], nil)
	// Releasing twice is harmless, and still leaves b's seats alone.
	mustRelease(t, g, show, a, seats)
	wantTaken(t, g, show, booking.NewID(), seats, seats)
}

func testReleaseUnknown(t *testing.T, g booking.Gate) {
	// Seats nobody holds release without error; the Service releases after failed
	// holds and must not be told that is a gate failure.
	show, seats := booking.NewID(), ids(3)
	mustRelease(t, g, show, booking.NewID(), seats)
	wantTaken(t, g, show, booking.NewID(), seats, nil)
}

func testExpiry(t *testing.T, g booking.Gate) {
	const ttl = 50 * time.Millisecond
	show, seats := booking.NewID(), ids(3)
	a, b := booking.NewID(), booking.NewID()
	start := time.Now()
	if got := mustAcquire(t, g, show, a, seats, ttl); len(got) != 0 {
		t.Fatalf("Acquire taken: got %v, want none", got)
	}
	// Before the ttl, b is turned away. Only assert it if the answer surely came
	// before the ttl: a slow machine must not make the test flaky.
	got := mustAcquire(t, g, show, b, seats, longTTL)
	if time.Since(start) < ttl {
		if diff := cmp.Diff(seats, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Acquire before expiry taken: got %v, want %v", got, seats)
		}
	} else if len(got) == 0 {
		return // it expired already and b has the seats; that is correct too
	}
	// After the ttl, b gets every seat back.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := mustAcquire(t, g, show, b, seats, longTTL)
		if len(got) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Acquire 5s after a %v hold: got taken %v, want none", ttl, got)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, bounded by deadline
	}
	if elapsed := time.Since(start); elapsed < ttl {
		t.Errorf("seats expired after %v: got earlier than the ttl, want at least %v", elapsed, ttl)
	}
	// The seats are b's now, so a cannot have them back.
	wantTaken(t, g, show, a, seats, seats)
}

func testShowsIndependent(t *testing.T, g booking.Gate) {
	// Seat ids are globally unique; the show id only keeps a request's keys
	// together. One token may hold seats of several shows, and releasing those
	// of one show must leave the others alone.
	showA, showB := booking.NewID(), booking.NewID()
	seatsA, seatsB := ids(2), ids(2)
	a, b := booking.NewID(), booking.NewID()
	wantTaken(t, g, showA, a, seatsA, nil)
	wantTaken(t, g, showB, a, seatsB, nil)
	wantTaken(t, g, showB, b, seatsB, seatsB)
	mustRelease(t, g, showA, a, seatsA)
	wantTaken(t, g, showB, b, seatsB, seatsB)
	wantTaken(t, g, showA, b, seatsA, nil)
	// A conflict in one show does not bleed into a request for another.
	wantTaken(t, g, showA, booking.NewID(), ids(3), nil)
}

func testNonPositiveTTL(t *testing.T, g booking.Gate) {
	// A hold that would expire at once is a caller's bug; the gate refuses it
	// rather than silently holding forever or not at all.
	show, seats := booking.NewID(), ids(2)
	for _, ttl := range []time.Duration{0, -time.Second} {
		taken, err := g.Acquire(t.Context(), show, booking.NewID(), seats, ttl)
		if err == nil {
			t.Errorf("Acquire ttl %v: got taken %v and nil error, want an error", ttl, taken)
		}
	}
	wantTaken(t, g, show, booking.NewID(), seats, nil)
}

// testConcurrent races many tokens for overlapping sets of few seats. Nothing is
// released during the race, so every seat must have gone to at most one winner.
func testConcurrent(t *testing.T, g booking.Gate) {
	const (
		goroutines = 200
		nSeats     = 10
	)
	show, seats := booking.NewID(), ids(nSeats)
	type result struct {
		token   string
		request []string
		taken   []string
		err     error
	}
	results := make([]result, goroutines)
	for i := range results {
		n := 1 + rand.IntN(3)
		perm := rand.Perm(nSeats)[:n]
		req := make([]string, n)
		for j, k := range perm {
			req[j] = seats[k]
		}
		results[i] = result{token: booking.NewID(), request: req}
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			<-start // line everyone up, so that the requests overlap in time
			claims, err := g.Acquire(t.Context(), show, r.token, r.request, longTTL)
			r.taken, r.err = claimedSeats(claims), err
		})
	}
	close(start)
	wg.Wait()

	owner := make(map[string]string) // seat → winning token
	winners := 0
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("Acquire(%v): got error %v, want nil", r.request, r.err)
		}
		if len(r.taken) > 0 {
			continue
		}
		winners++
		for _, s := range r.request {
			if prev, ok := owner[s]; ok {
				t.Errorf("seat %s: got granted to tokens %s and %s, want at most one", s, prev, r.token)
			}
			owner[s] = r.token
		}
	}
	if winners == 0 {
		t.Fatalf("winners: got 0, want at least 1")
	}
	// A loser is turned away only by seats that a winner holds (a winner that
	// came later may hold more), and they are named in the order it asked for them.
	for _, r := range results {
		if len(r.taken) == 0 {
			continue
		}
		if !isSubsequence(r.taken, r.request) {
			t.Errorf("loser %s asking for %v: got taken %v, want a subsequence of the request", r.token, r.request, r.taken)
		}
		for _, s := range r.taken {
			if _, ok := owner[s]; !ok {
				t.Errorf("loser %s: got seat %s taken, want it held by a winner, but no winner has it", r.token, s)
			}
		}
	}
	// The gate agrees: exactly the winners' seats are held, and no loser left a
	// seat behind.
	var held []string
	for _, s := range seats {
		if _, ok := owner[s]; ok {
			held = append(held, s)
		}
	}
	wantTaken(t, g, show, booking.NewID(), seats, held)
	t.Logf("%d of %d requests won, holding %d of %d seats", winners, goroutines, len(held), nSeats)
}

// isSubsequence reports whether sub is seq with some elements left out.
func isSubsequence(sub, seq []string) bool {
	i := 0
	for _, s := range seq {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}
	return i == len(sub)
}

// waitUntil blocks until the wall clock has passed t. It is how a test waits for a
// ttl to run out when there is nothing to poll for.
func waitUntil(tb testing.TB, t time.Time) {
	tb.Helper()
	if d := time.Until(t); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-tb.Context().Done():
			tb.Fatalf("context done while waiting: %v", tb.Context().Err())
		}
	}
}
