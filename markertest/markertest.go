// Package markertest is the conformance suite every idempotency.Markers must
// pass. The memory and redis markers both run it, so that the embedded default
// and the markers a fleet of seatd instances shares cannot drift apart in what
// the idempotency middleware may rely on.
//
// Besides the interface's comments, the suite pins two choices both adapters
// make: a done mark's Response is never nil or empty (nil is how a mark in
// flight reads, so Complete refuses an empty answer), and a ttl or leaseTTL that
// is not positive is an error rather than a mark that never or always expires.
package markertest

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"seatmanager/booking"
	"seatmanager/idempotency"
)

const (
	// longTTL outlives every test, so that only the tests about expiry see
	// marks expire.
	longTTL = time.Minute
	// shortTTL is the lease or ttl of the tests that wait for a mark to expire.
	shortTTL = 50 * time.Millisecond
	// patience bounds every wait for an expiry, so that a broken adapter fails
	// the test instead of hanging it; a healthy one needs a few shortTTLs.
	patience = 5 * time.Second
	// pollEvery is how often a test waiting for an expiry asks again.
	pollEvery = 10 * time.Millisecond
)

// Run runs the suite as parallel subtests of t. newMarkers is called once per
// subtest, possibly from several goroutines at once, and must return markers
// that share no ids with those of other subtests (for Redis: a key prefix of
// their own), so that subtests can run in any order and at the same time.
func Run(t *testing.T, newMarkers func(t *testing.T) idempotency.Markers) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, m idempotency.Markers)
	}{
		{"ClaimNew", testClaimNew},
		{"ClaimInFlight", testClaimInFlight},
		{"ClaimInFlightSameLease", testClaimInFlightSameLease},
		{"ClaimAfterLeaseRanOut", testClaimAfterLeaseRanOut},
		{"CompleteThenClaim", testCompleteThenClaim},
		{"CompleteResponses", testCompleteResponses},
		{"CompleteWithoutMark", testCompleteWithoutMark},
		{"CompleteStaleLease", testCompleteStaleLease},
		{"CompleteDone", testCompleteDone},
		{"CompleteEmptyResponse", testCompleteEmptyResponse},
		{"RecordNew", testRecordNew},
		{"RecordInFlight", testRecordInFlight},
		{"RecordDone", testRecordDone},
		{"RecordEmptyResponse", testRecordEmptyResponse},
		{"ResponseIsCopied", testResponseIsCopied},
		{"DoneExpires", testDoneExpires},
		{"AbandonOwn", testAbandonOwn},
		{"AbandonOther", testAbandonOther},
		{"AbandonDone", testAbandonDone},
		{"AbandonUnknown", testAbandonUnknown},
		{"IDsIndependent", testIDsIndependent},
		{"OddStrings", testOddStrings},
		{"NonPositiveTTL", testNonPositiveTTL},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newMarkers(t))
		})
	}
}

func testClaimNew(t *testing.T, m idempotency.Markers) {
	id, fp := booking.NewID(), booking.NewID()
	got := claim(t, m, id, booking.NewID(), fp, longTTL)
	// LeaseLeft of a claim just won is not part of the contract.
	want := idempotency.Mark{Claimed: true, Fingerprint: fp}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(idempotency.Mark{}, "LeaseLeft")); diff != "" {
		t.Errorf("Claim of a new id: got %+v, want %+v (-want +got):\n%s", got, want, diff)
	}
}

func testClaimInFlight(t *testing.T, m idempotency.Markers) {
	id, fp := booking.NewID(), booking.NewID()
	if got := claim(t, m, id, booking.NewID(), fp, longTTL); !got.Claimed {
		t.Fatalf("first Claim: got %+v, want Claimed", got)
	}
	// A retry of the same request and another request under the same key both
	// see the first one's fingerprint, and how long until they may take over.
	const ask = 10 * time.Second // asking with another leaseTTL changes nothing
	got := claim(t, m, id, booking.NewID(), fp, ask)
	checkInFlight(t, got, fp, longTTL)
	got = claim(t, m, id, booking.NewID(), booking.NewID(), longTTL)
	checkInFlight(t, got, fp, longTTL)
}

// testClaimInFlightSameLease: a Claim repeated by the lease that holds the mark
// (a client retrying a command whose answer was lost) is Claimed again, so that
// a request is never told that it is itself in progress.
func testClaimInFlightSameLease(t *testing.T, m idempotency.Markers) {
	id, lease, fp := booking.NewID(), booking.NewID(), booking.NewID()
	if got := claim(t, m, id, lease, fp, longTTL); !got.Claimed {
		t.Fatalf("first Claim: got %+v, want Claimed", got)
	}
	if got := claim(t, m, id, lease, fp, longTTL); !got.Claimed {
		t.Errorf("same lease again: got %+v, want Claimed", got)
	}
	checkInFlight(t, claim(t, m, id, booking.NewID(), fp, longTTL), fp, longTTL)
}

func testClaimAfterLeaseRanOut(t *testing.T, m idempotency.Markers) {
	id, fpA, fpB := booking.NewID(), booking.NewID(), booking.NewID()
	start := time.Now()
	if got := claim(t, m, id, booking.NewID(), fpA, shortTTL); !got.Claimed {
		t.Fatalf("first Claim: got %+v, want Claimed", got)
	}
	took := claimWhenFree(t, m, id, booking.NewID(), fpB, start, fpA, nil)
	if took < shortTTL {
		t.Errorf("Claim after a %v lease: got Claimed after %v, want at least %v", shortTTL, took, shortTTL)
	}
	// The id is the new lease's now, for the new lease's leaseTTL.
	wantInFlight(t, m, id, fpB, longTTL)
}

func testCompleteThenClaim(t *testing.T, m idempotency.Markers) {
	id, lease, fp := booking.NewID(), booking.NewID(), booking.NewID()
	if got := claim(t, m, id, lease, fp, longTTL); !got.Claimed {
		t.Fatalf("first Claim: got %+v, want Claimed", got)
	}
	resp := []byte(`{"holdToken":"abc"}`)
	complete(t, m, id, lease, fp, resp, longTTL)
	wantDone(t, m, id, fp, resp)
	// A request reusing the key with another payload sees the original
	// fingerprint, so that the caller can refuse it.
	got := claim(t, m, id, booking.NewID(), booking.NewID(), longTTL)
	checkDone(t, got, fp, resp)
}

func testCompleteResponses(t *testing.T, m idempotency.Markers) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	tests := []struct {
		name     string
		response []byte
	}{
		{"AllBytes", allBytes},
		{"ZeroByte", []byte{0}},
		{"CRLF", []byte("HTTP/1.1 200 OK\r\n\r\n$3\r\nfoo\r\n")},
		{"UTF8", []byte("réservé ✓ 座席")},
		{"Large", bytes.Repeat(allBytes, 4096)}, // 1 MiB
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, lease, fp := booking.NewID(), booking.NewID(), booking.NewID()
			claim(t, m, id, lease, fp, longTTL)
			complete(t, m, id, lease, fp, tt.response, longTTL)
			wantDone(t, m, id, fp, tt.response)
		})
	}
}

// testCompleteWithoutMark is how a receipt found in the database gets cached:
// no one claimed the id here, and the answer is stored all the same.
func testCompleteWithoutMark(t *testing.T, m idempotency.Markers) {
	id, fp, resp := booking.NewID(), booking.NewID(), []byte("receipt")
	complete(t, m, id, booking.NewID(), fp, resp, longTTL)
	wantDone(t, m, id, fp, resp)
}

// testCompleteStaleLease is the attempt that stalled past its lease: another
// attempt took over, and the stale one must not clobber its mark.
func testCompleteStaleLease(t *testing.T, m idempotency.Markers) {
	id := booking.NewID()
	a, fpA := booking.NewID(), booking.NewID()
	b, fpB := booking.NewID(), booking.NewID()
	start := time.Now()
	claim(t, m, id, a, fpA, shortTTL)
	claimWhenFree(t, m, id, b, fpB, start, fpA, nil)

	complete(t, m, id, a, fpA, []byte("stale"), longTTL)
	wantInFlight(t, m, id, fpB, longTTL)
	abandon(t, m, id, a)
	wantInFlight(t, m, id, fpB, longTTL)

	resp := []byte("fresh")
	complete(t, m, id, b, fpB, resp, longTTL)
	wantDone(t, m, id, fpB, resp)
}

// testCompleteDone checks that a done mark is final: completing it again, by
// its own lease (a retried call) or another (a receipt cached twice), keeps the
// first answer, which a client may already have seen.
func testCompleteDone(t *testing.T, m idempotency.Markers) {
	id, lease, fp := booking.NewID(), booking.NewID(), booking.NewID()
	resp := []byte("first")
	claim(t, m, id, lease, fp, longTTL)
	complete(t, m, id, lease, fp, resp, longTTL)
	complete(t, m, id, lease, fp, resp, longTTL)
	wantDone(t, m, id, fp, resp)
	complete(t, m, id, lease, fp, []byte("second"), longTTL)
	complete(t, m, id, booking.NewID(), booking.NewID(), []byte("third"), longTTL)
	wantDone(t, m, id, fp, resp)
}

// testCompleteEmptyResponse: a nil Response is how a mark in flight reads, so a
// done mark must have at least one byte, and Complete refuses less.
func testCompleteEmptyResponse(t *testing.T, m idempotency.Markers) {
	id, lease, fp := booking.NewID(), booking.NewID(), booking.NewID()
	claim(t, m, id, lease, fp, longTTL)
	free := booking.NewID()
	for _, resp := range [][]byte{nil, {}} {
		if err := m.Complete(t.Context(), id, lease, fp, resp, longTTL); err == nil {
			t.Errorf("Complete with response %#v: got nil error, want one", resp)
		}
		if err := m.Complete(t.Context(), free, booking.NewID(), fp, resp, longTTL); err == nil {
			t.Errorf("Complete without a mark with response %#v: got nil error, want one", resp)
		}
	}
	wantInFlight(t, m, id, fp, longTTL)
	wantClaimed(t, m, free)
}

// testRecordNew: an answer recorded without a claim is a done mark, which
// the next attempt is given, with the recording one's fingerprint.
func testRecordNew(t *testing.T, m idempotency.Markers) {
	id, lease, fp, resp := booking.NewID(), booking.NewID(), booking.NewID(), []byte("409\nrefused")
	if got := record(t, m, id, lease, fp, resp, longTTL); !got.Claimed {
		t.Fatalf("Record of a new id: got %+v, want Claimed", got)
	}
	// A retried call of the same recording finds its own answer.
	if got := record(t, m, id, lease, fp, resp, longTTL); !got.Claimed {
		t.Errorf("Record again by the same lease: got %+v, want Claimed", got)
	}
	wantDone(t, m, id, fp, resp)
}

// testRecordInFlight: an answer recorded while another attempt has the id in
// flight is not kept; the recording attempt is told of the one in flight.
func testRecordInFlight(t *testing.T, m idempotency.Markers) {
	id, fp := booking.NewID(), booking.NewID()
	if got := claim(t, m, id, booking.NewID(), fp, longTTL); !got.Claimed {
		t.Fatalf("Claim: got %+v, want Claimed", got)
	}
	got := record(t, m, id, booking.NewID(), booking.NewID(), []byte("refused"), longTTL)
	checkInFlight(t, got, fp, longTTL)
	wantInFlight(t, m, id, fp, longTTL)
}

// testRecordDone: a done mark is final for Record as for Complete; the
// recording attempt gets it.
func testRecordDone(t *testing.T, m idempotency.Markers) {
	id, lease, fp, resp := booking.NewID(), booking.NewID(), booking.NewID(), []byte("first")
	claim(t, m, id, lease, fp, longTTL)
	complete(t, m, id, lease, fp, resp, longTTL)
	got := record(t, m, id, booking.NewID(), booking.NewID(), []byte("second"), longTTL)
	checkDone(t, got, fp, resp)
	other := booking.NewID()
	record(t, m, other, booking.NewID(), fp, []byte("recorded"), longTTL)
	checkDone(t, record(t, m, other, booking.NewID(), fp, []byte("again"), longTTL), fp, []byte("recorded"))
	wantDone(t, m, id, fp, resp)
}

// testRecordEmptyResponse: Record, like Complete, refuses an empty answer,
// which would read as a mark in flight, and leaves the id free.
func testRecordEmptyResponse(t *testing.T, m idempotency.Markers) {
	id := booking.NewID()
	for _, resp := range [][]byte{nil, {}} {
		if got, err := m.Record(t.Context(), id, booking.NewID(), booking.NewID(), resp, longTTL); err == nil {
			t.Errorf("Record with response %#v: got %+v and nil error, want an error", resp, got)
		}
	}
	wantClaimed(t, m, id)
}

// testResponseIsCopied checks that the markers keep their own copy of an answer:
// callers reuse buffers, and a replay must be byte for byte what was stored.
func testResponseIsCopied(t *testing.T, m idempotency.Markers) {
	id, lease, fp := booking.NewID(), booking.NewID(), booking.NewID()
	resp := []byte("original")
	claim(t, m, id, lease, fp, longTTL)
	complete(t, m, id, lease, fp, resp, longTTL)
	copy(resp, "XXXXXXXX")
	got := claim(t, m, id, booking.NewID(), booking.NewID(), longTTL)
	checkDone(t, got, fp, []byte("original"))
	if len(got.Response) > 0 {
		got.Response[0] = 'X'
	}
	wantDone(t, m, id, fp, []byte("original"))
}

// testDoneExpires: a done mark lasts its ttl, whether it completed a claim
// or was recorded without one.
func testDoneExpires(t *testing.T, m idempotency.Markers) {
	for how, done := range map[string]func(id, fp string, resp []byte){
		"completed": func(id, fp string, resp []byte) { complete(t, m, id, booking.NewID(), fp, resp, shortTTL) },
		"recorded":  func(id, fp string, resp []byte) { record(t, m, id, booking.NewID(), fp, resp, shortTTL) },
	} {
		id, fp, resp := booking.NewID(), booking.NewID(), []byte("answer")
		start := time.Now()
		done(id, fp, resp)
		took := claimWhenFree(t, m, id, booking.NewID(), booking.NewID(), start, fp, resp)
		if took < shortTTL {
			t.Errorf("Claim after a %v done mark, %s: got Claimed after %v, want at least %v", shortTTL, how, took, shortTTL)
		}
	}
}

func testAbandonOwn(t *testing.T, m idempotency.Markers) {
	id, lease := booking.NewID(), booking.NewID()
	claim(t, m, id, lease, booking.NewID(), longTTL)
	abandon(t, m, id, lease)
	wantClaimed(t, m, id)
	// Abandoning again, now that another lease holds the id, leaves it alone.
	abandon(t, m, id, lease)
	got := claim(t, m, id, booking.NewID(), booking.NewID(), longTTL)
	if got.Claimed {
		t.Errorf("Claim after a repeated Abandon: got Claimed, want the new lease's mark")
	}
}

func testAbandonOther(t *testing.T, m idempotency.Markers) {
	id, fp := booking.NewID(), booking.NewID()
	claim(t, m, id, booking.NewID(), fp, longTTL)
	abandon(t, m, id, booking.NewID())
	wantInFlight(t, m, id, fp, longTTL)
}

func testAbandonDone(t *testing.T, m idempotency.Markers) {
	id, lease, fp, resp := booking.NewID(), booking.NewID(), booking.NewID(), []byte("done")
	claim(t, m, id, lease, fp, longTTL)
	complete(t, m, id, lease, fp, resp, longTTL)
	// Not even the lease that completed it can take a done mark back.
	abandon(t, m, id, lease)
	abandon(t, m, id, booking.NewID())
	wantDone(t, m, id, fp, resp)
}

func testAbandonUnknown(t *testing.T, m idempotency.Markers) {
	id := booking.NewID()
	abandon(t, m, id, booking.NewID())
	wantClaimed(t, m, id)
}

func testIDsIndependent(t *testing.T, m idempotency.Markers) {
	ids := []string{booking.NewID(), booking.NewID(), booking.NewID()}
	leases := []string{booking.NewID(), booking.NewID(), booking.NewID()}
	fps := []string{booking.NewID(), booking.NewID(), booking.NewID()}
	for i, id := range ids {
		if got := claim(t, m, id, leases[i], fps[i], longTTL); !got.Claimed {
			t.Fatalf("Claim(ids[%d]): got %+v, want Claimed", i, got)
		}
	}
	resp := []byte("zero")
	complete(t, m, ids[0], leases[0], fps[0], resp, longTTL)
	abandon(t, m, ids[1], leases[1])
	wantDone(t, m, ids[0], fps[0], resp)
	wantClaimed(t, m, ids[1])
	wantInFlight(t, m, ids[2], fps[2], longTTL)
}

// testOddStrings uses ids, leases and fingerprints that an adapter's key or
// value encoding could confuse: separators, digits, prefixes of one another,
// bytes that are not text, and ids long enough to need shortening.
func testOddStrings(t *testing.T, m idempotency.Markers) {
	long := strings.Repeat("k", 10_000)
	ids := []string{
		" ", "with space", "{tag}", "a:b", "a", "ab", "1:a", "1:a1:", "ünï", "nul\x00byte",
		strings.Repeat("x", 199), strings.Repeat("x", 200), strings.Repeat("x", 201),
		long, long + "1", long + "2",
	}
	fps := make(map[string]string)
	for _, id := range ids {
		fp := "fp:" + id // distinct, and full of the same separators
		fps[id] = fp
		if got := claim(t, m, id, "3:L1:", fp, longTTL); !got.Claimed {
			t.Fatalf("Claim(%.40q): got %+v, want Claimed: it collides with another id", id, got)
		}
	}
	for _, id := range ids {
		wantInFlight(t, m, id, fps[id], longTTL)
	}

	// Leases that are prefixes of one another, or that share the digits and
	// separators of a length-prefixed encoding, are still different leases.
	id := booking.NewID()
	const owner = "1:a"
	claim(t, m, id, owner, "", longTTL)
	for _, other := range []string{"", "1", "1:", "1:a1:", "1:ab", "2:a", "a"} {
		abandon(t, m, id, other)
		complete(t, m, id, other, "", []byte("not mine"), longTTL)
	}
	wantInFlight(t, m, id, "", longTTL)
	resp := []byte("\x001:a\x00")
	complete(t, m, id, owner, "fp\x00:1", resp, longTTL)
	wantDone(t, m, id, "fp\x00:1", resp)
}

func testNonPositiveTTL(t *testing.T, m idempotency.Markers) {
	// A mark that would expire at once is a caller's bug; the markers refuse it
	// rather than silently keeping it forever or not at all.
	id := booking.NewID()
	for _, ttl := range []time.Duration{0, -time.Second} {
		if got, err := m.Claim(t.Context(), id, booking.NewID(), booking.NewID(), ttl); err == nil {
			t.Errorf("Claim leaseTTL %v: got %+v and nil error, want an error", ttl, got)
		}
		if err := m.Complete(t.Context(), id, booking.NewID(), booking.NewID(), []byte("r"), ttl); err == nil {
			t.Errorf("Complete ttl %v: got nil error, want an error", ttl)
		}
		if got, err := m.Record(t.Context(), id, booking.NewID(), booking.NewID(), []byte("r"), ttl); err == nil {
			t.Errorf("Record ttl %v: got %+v and nil error, want an error", ttl, got)
		}
	}
	wantClaimed(t, m, id)
}

// testConcurrent races many attempts to take one id, half of them by Claim
// and half by Record: exactly one may win, and every other one must see the
// winner's mark.
func testConcurrent(t *testing.T, m idempotency.Markers) {
	const goroutines = 100
	id := booking.NewID()
	type result struct {
		fp       string
		response []byte // set for those that record
		mark     idempotency.Mark
		err      error
	}
	results := make([]result, goroutines)
	for i := range results {
		results[i].fp = booking.NewID()
		if i%2 == 1 {
			results[i].response = []byte("refused " + results[i].fp)
		}
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			<-start // line everyone up, so that the attempts overlap in time
			if r.response != nil {
				r.mark, r.err = m.Record(t.Context(), id, booking.NewID(), r.fp, r.response, longTTL)
			} else {
				r.mark, r.err = m.Claim(t.Context(), id, booking.NewID(), r.fp, longTTL)
			}
		})
	}
	close(start)
	wg.Wait()

	var winners []result
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("Claim or Record: got error %v, want nil", r.err)
		}
		if r.mark.Claimed {
			winners = append(winners, r)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("winners: got %d, want exactly 1", len(winners))
	}
	won := winners[0]
	check := func(got idempotency.Mark) {
		t.Helper()
		if won.response != nil {
			checkDone(t, got, won.fp, won.response)
		} else {
			checkInFlight(t, got, won.fp, longTTL)
		}
	}
	for _, r := range results {
		if !r.mark.Claimed {
			check(r.mark)
		}
	}
	check(claim(t, m, id, booking.NewID(), booking.NewID(), longTTL))
}
