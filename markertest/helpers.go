package markertest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/idempotency"
)

// claim claims id and fails the test on an error.
func claim(tb testing.TB, m idempotency.Markers, id, lease, fingerprint string, leaseTTL time.Duration) idempotency.Mark {
	tb.Helper()
	mark, err := m.Claim(tb.Context(), id, lease, fingerprint, leaseTTL)
	if err != nil {
		tb.Fatalf("Claim(%.40q, lease %.40q): got error %v, want nil", id, lease, err)
	}
	return mark
}

func complete(tb testing.TB, m idempotency.Markers, id, lease, fingerprint string, response []byte, ttl time.Duration) {
	tb.Helper()
	if err := m.Complete(tb.Context(), id, lease, fingerprint, response, ttl); err != nil {
		tb.Fatalf("Complete(%.40q, lease %.40q): got error %v, want nil", id, lease, err)
	}
}

// record records id's answer without a claim and fails the test on an error.
func record(tb testing.TB, m idempotency.Markers, id, lease, fingerprint string, response []byte, ttl time.Duration) idempotency.Mark {
	tb.Helper()
	mark, err := m.Record(tb.Context(), id, lease, fingerprint, response, ttl)
	if err != nil {
		tb.Fatalf("Record(%.40q, lease %.40q): got error %v, want nil", id, lease, err)
	}
	return mark
}

func abandon(tb testing.TB, m idempotency.Markers, id, lease string) {
	tb.Helper()
	if err := m.Abandon(tb.Context(), id, lease); err != nil {
		tb.Fatalf("Abandon(%.40q, lease %.40q): got error %v, want nil", id, lease, err)
	}
}

// wantClaimed claims id under a new lease for longTTL and fails unless it gets
// it. It is how a test shows that id has no live mark; it leaves one behind.
func wantClaimed(tb testing.TB, m idempotency.Markers, id string) {
	tb.Helper()
	fp := booking.NewID()
	got := claim(tb, m, id, booking.NewID(), fp, longTTL)
	if !got.Claimed || got.Fingerprint != fp || got.Response != nil {
		tb.Errorf("Claim(%.40q) of a free id: got %+v, want Claimed with fingerprint %q and no response", id, got, fp)
	}
}

// wantInFlight claims id under a new lease and fails unless id is in flight
// under fingerprint with a lease of at most leaseTTL left.
func wantInFlight(tb testing.TB, m idempotency.Markers, id, fingerprint string, leaseTTL time.Duration) {
	tb.Helper()
	got := claim(tb, m, id, booking.NewID(), booking.NewID(), longTTL)
	checkInFlight(tb, got, fingerprint, leaseTTL)
}

func checkInFlight(tb testing.TB, got idempotency.Mark, fingerprint string, leaseTTL time.Duration) {
	tb.Helper()
	if got.Claimed {
		tb.Errorf("Claim of an id in flight: got Claimed, want the existing mark")
	}
	if got.Fingerprint != fingerprint {
		tb.Errorf("Claim of an id in flight: got fingerprint %q, want %q", got.Fingerprint, fingerprint)
	}
	if got.Response != nil {
		tb.Errorf("Claim of an id in flight: got response %q, want nil", got.Response)
	}
	if got.LeaseLeft <= 0 || got.LeaseLeft > leaseTTL {
		tb.Errorf("Claim of an id in flight: got LeaseLeft %v, want in (0, %v]", got.LeaseLeft, leaseTTL)
	}
}

// wantDone claims id under a new lease and fails unless id is done with exactly
// fingerprint and response.
func wantDone(tb testing.TB, m idempotency.Markers, id, fingerprint string, response []byte) {
	tb.Helper()
	got := claim(tb, m, id, booking.NewID(), booking.NewID(), longTTL)
	checkDone(tb, got, fingerprint, response)
}

func checkDone(tb testing.TB, got idempotency.Mark, fingerprint string, response []byte) {
	tb.Helper()
	// LeaseLeft means nothing once a mark is done. Responses go through
	// bytes.Equal, not cmp, which walks a large one byte by byte.
	if got.Claimed {
		tb.Errorf("Claim of a done id: got Claimed, want the done mark")
	}
	if got.Fingerprint != fingerprint {
		tb.Errorf("Claim of a done id: got fingerprint %q, want %q", got.Fingerprint, fingerprint)
	}
	if got.Response == nil || !bytes.Equal(got.Response, response) {
		tb.Errorf("Claim of a done id: got response %s, want %s", describe(got.Response), describe(response))
	}
}

// describe shows a response in a failure message, shortened if long.
func describe(b []byte) string {
	switch {
	case b == nil:
		return "nil"
	case len(b) > 64:
		return fmt.Sprintf("%q… (%d bytes)", b[:64], len(b))
	default:
		return fmt.Sprintf("%q", b)
	}
}

// claimWhenFree claims id under lease until it gets it, and returns how long
// that took from start. It fails the test if the id is still taken after
// patience, or if any answer in between is not the in-flight mark of
// busyFingerprint with a lease of at most shortTTL (or, if done is set, the done
// mark with that response).
func claimWhenFree(tb testing.TB, m idempotency.Markers, id, lease, fingerprint string, start time.Time, busyFingerprint string, done []byte) time.Duration {
	tb.Helper()
	deadline := time.Now().Add(patience)
	for {
		got := claim(tb, m, id, lease, fingerprint, longTTL)
		if got.Claimed {
			return time.Since(start)
		}
		if done != nil {
			checkDone(tb, got, busyFingerprint, done)
		} else {
			checkInFlight(tb, got, busyFingerprint, shortTTL)
		}
		if tb.Failed() {
			tb.FailNow()
		}
		if time.Now().After(deadline) {
			tb.Fatalf("Claim %v after a %v mark: got %+v, want Claimed", patience, shortTTL, got)
		}
		sleep(tb, pollEvery)
	}
}

// sleep waits d, or fails the test if it ends first.
func sleep(tb testing.TB, d time.Duration) {
	tb.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-tb.Context().Done():
		tb.Fatalf("context done while waiting: %v", tb.Context().Err())
	}
}
