package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/idempotency"
	"seatmanager/memory"
	"seatmanager/sqlite"
)

// TestInFlightDuplicate: a duplicate that arrives while the first request runs
// is told to come back, and never runs.
func TestInFlightDuplicate(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("done once"))
	}, 10*time.Second)
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- h.post("k", "alice", `{"a":1}`) }()
	<-started

	dup := h.post("k", "alice", `{"a":1}`)
	if dup.Code != http.StatusConflict || dup.Header().Get("Retry-After") == "" {
		t.Errorf("duplicate in flight: got %d (Retry-After %q) %s, want 409 with Retry-After", dup.Code, dup.Header().Get("Retry-After"), dup.Body)
	}
	if other := h.post("k", "alice", `{"a":2}`); other.Code != http.StatusUnprocessableEntity {
		t.Errorf("other payload in flight: got %d, want 422", other.Code)
	}
	close(release)
	got := <-first
	if got.Code != 200 || got.Body.String() != "done once" {
		t.Fatalf("first: got %d %q", got.Code, got.Body)
	}
	again := h.post("k", "alice", `{"a":1}`)
	if again.Code != 200 || again.Body.String() != "done once" || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("after: got %d %q %v, want the replay", again.Code, again.Body, again.Header())
	}
	if n := h.runs.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
}

// TestLeaseRunsOut: a marker whose owner never finished (a crashed process)
// blocks retries only until its lease runs out.
func TestLeaseRunsOut(t *testing.T) {
	block := make(chan struct{})
	var calls atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-block // the first attempt hangs, like a process that stopped
			return
		}
		w.Write([]byte("second attempt"))
	}, 200*time.Millisecond)
	defer close(block)
	go h.post("k", "alice", `{}`)
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("first attempt never started")
		}
		time.Sleep(time.Millisecond)
	}
	if r := h.post("k", "alice", `{}`); r.Code != http.StatusConflict {
		t.Errorf("within the lease: got %d, want 409", r.Code)
	}
	for {
		r := h.post("k", "alice", `{}`)
		if r.Code == 200 {
			if r.Body.String() != "second attempt" {
				t.Errorf("got %q, want the second attempt's answer", r.Body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the key was still blocked 5s after a 200ms lease: %d %s", r.Code, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutcomesKept: which answers are kept for retries and which are not.
func TestOutcomesKept(t *testing.T) {
	for _, tt := range []struct {
		status int
		kept   bool
	}{
		{200, true}, {201, true}, {409, true}, {410, true},
		{400, false}, {404, false}, {413, false}, {422, false}, {500, false}, {503, false},
	} {
		var n atomic.Int64
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			w.Write([]byte{byte('0' + n.Add(1))})
		}, time.Second)
		h.post("k", "alice", `{}`)
		again := h.post("k", "alice", `{}`)
		if kept := again.Body.String() == "1"; kept != tt.kept {
			t.Errorf("status %d: kept = %v, want %v", tt.status, kept, tt.kept)
		}
		if again.Code != tt.status {
			t.Errorf("status %d: retry got %d", tt.status, again.Code)
		}
	}
}

// TestUnattributedRunsWithoutKey: a request the scope cannot attribute goes to
// the handler (which rejects it) and spends no key.
func TestUnattributedRunsWithoutKey(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "who are you", http.StatusBadRequest)
	}, time.Second)
	if r := h.post("k", "", `{}`); r.Code != http.StatusBadRequest {
		t.Errorf("got %d, want the handler's 400", r.Code)
	}
	if _, err := h.store.Receipt(t.Context(), "", "k"); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("a receipt was stored for an unattributed request: %v", err)
	}
}

// TestMarkersForgot: with the markers wiped (a Redis restart), the database's
// receipt still answers the retry.
func TestMarkersForgot(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("once")) }, time.Second)
	h.post("k", "alice", `{}`)
	// A second middleware on the same database, with markers that know nothing.
	m := idempotency.New(idempotency.Config{
		Receipts: h.store, Markers: memory.NewMarkers(0),
		Scope: func(*http.Request, []byte) (string, error) { return "alice", nil },
		Fail:  func(w http.ResponseWriter, _ *http.Request, err error) { http.Error(w, err.Error(), 500) },
	})
	mux := http.NewServeMux()
	mux.Handle("POST /do", m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("twice")) })))
	req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", "k")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Body.String() != "once" || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("got %q %v, want the stored answer replayed", rec.Body, rec.Header())
	}
}

// countingStore counts the writes that reach the database.
type countingStore struct {
	*sqlite.Store
	one, many atomic.Int64
}

func (c *countingStore) SaveReceipt(ctx context.Context, r booking.Receipt, ttl time.Duration) (booking.Receipt, error) {
	c.one.Add(1)
	return c.Store.SaveReceipt(ctx, r, ttl)
}

func (c *countingStore) SaveReceipts(ctx context.Context, rs []booking.Receipt, ttl time.Duration) ([]booking.Receipt, error) {
	c.many.Add(1)
	return c.Store.SaveReceipts(ctx, rs, ttl)
}

// TestRefusalsCommittedInGroups: answers that changed nothing (409) are each
// stored before they are sent, but many to a write transaction.
func TestRefusalsCommittedInGroups(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	counting := &countingStore{Store: store}
	m := idempotency.New(idempotency.Config{
		Receipts: counting, Batch: counting, Markers: memory.NewMarkers(0),
		Scope: func(*http.Request, []byte) (string, error) { return "alice", nil },
		Fail:  func(w http.ResponseWriter, _ *http.Request, err error) { http.Error(w, err.Error(), 500) },
	})
	mux := http.NewServeMux()
	mux.Handle("POST /do", m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "seats taken", http.StatusConflict)
	})))
	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(`{}`))
			req.Header.Set("Idempotency-Key", fmt.Sprint("k", i))
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != http.StatusConflict {
				t.Errorf("request %d: got %d, want 409", i, rec.Code)
			}
			// Its answer is stored by the time it is given.
			if _, err := store.Receipt(t.Context(), "alice POST /do", fmt.Sprint("k", i)); err != nil {
				t.Errorf("answer %d was given before it was stored: %v", i, err)
			}
		})
	}
	wg.Wait()
	m.Close()
	if one := counting.one.Load(); one != 0 {
		t.Errorf("%d answers were written one by one while their clients waited, want 0", one)
	}
	if many := counting.many.Load(); many == 0 || many >= n {
		t.Errorf("%d group writes for %d answers, want fewer writes than answers", many, n)
	}
}

// flakyStore is a store whose receipts cannot be read or written for a while.
type flakyStore struct {
	*sqlite.Store
	broken atomic.Bool
}

func (f *flakyStore) Receipt(ctx context.Context, scope, key string) (booking.Receipt, error) {
	if f.broken.Load() {
		return booking.Receipt{}, errors.New("connection reset")
	}
	return f.Store.Receipt(ctx, scope, key)
}

func (f *flakyStore) SaveReceipt(ctx context.Context, r booking.Receipt, ttl time.Duration) (booking.Receipt, error) {
	if f.broken.Load() {
		return booking.Receipt{}, errors.New("connection reset")
	}
	return f.Store.SaveReceipt(ctx, r, ttl)
}

// TestUnrecordedAnswerNotGiven: an answer that cannot be stored is not sent;
// the client is told to retry, and its retry runs anew.
func TestUnrecordedAnswerNotGiven(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	flaky := &flakyStore{Store: store}
	var free atomic.Bool
	m := idempotency.New(idempotency.Config{
		Receipts: flaky, Markers: memory.NewMarkers(0),
		Scope: func(*http.Request, []byte) (string, error) { return "bob", nil },
		Fail: func(w http.ResponseWriter, _ *http.Request, err error) {
			status := http.StatusInternalServerError
			if errors.Is(err, idempotency.ErrNotRecorded) {
				status = http.StatusServiceUnavailable
			}
			http.Error(w, err.Error(), status)
		},
	})
	mux := http.NewServeMux()
	mux.Handle("POST /do", m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if free.Load() {
			http.Error(w, "seat free now: held", http.StatusConflict) // another outcome, to tell them apart
			return
		}
		http.Error(w, "seats taken", http.StatusConflict)
	})))
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", "k")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	flaky.broken.Store(true)
	if first := post(); first.Code != http.StatusServiceUnavailable {
		t.Errorf("with the receipts unreachable: got %d %q, want 503", first.Code, first.Body)
	}
	flaky.broken.Store(false)
	free.Store(true)
	if again := post(); !strings.Contains(again.Body.String(), "seat free now") {
		t.Errorf("retry: got %d %q, want it to run anew", again.Code, again.Body)
	}
}

// lateMarkers are in-process markers whose claims take effect but report a
// failure, as a pipelined claim does that reaches Redis after its caller gave up.
type lateMarkers struct {
	*memory.Markers
	claims atomic.Int64
	id     atomic.Value // the last id claimed
}

func (l *lateMarkers) Claim(ctx context.Context, id, lease, fingerprint string, leaseTTL time.Duration) (idempotency.Mark, error) {
	l.claims.Add(1)
	l.id.Store(id)
	if _, err := l.Markers.Claim(ctx, id, lease, fingerprint, leaseTTL); err != nil {
		return idempotency.Mark{}, err
	}
	return idempotency.Mark{}, context.DeadlineExceeded
}

// TestFailedClaimTakenBack: a claim that failed but left its mark has the mark
// taken back, so that retries of the key are not turned away for a lease.
func TestFailedClaimTakenBack(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	late := &lateMarkers{Markers: memory.NewMarkers(0)}
	m := idempotency.New(idempotency.Config{
		Receipts: store, Markers: late, LeaseTTL: time.Minute,
		Scope: func(*http.Request, []byte) (string, error) { return "alice", nil },
		Fail:  func(w http.ResponseWriter, _ *http.Request, err error) { http.Error(w, err.Error(), 500) },
	})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("done")) }))
	req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", "k")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || late.claims.Load() != 1 {
		t.Fatalf("request with a failing claim: got %d %q after %d claims, want 200 after 1", rec.Code, rec.Body, late.claims.Load())
	}
	// The mark is taken back in the background; a new lease can claim the
	// key once it is.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mark, err := late.Markers.Claim(t.Context(), late.id.Load().(string), "another lease", "fp", time.Minute)
		if err == nil && mark.Claimed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after the failed claim: the key is still marked (%+v, %v), want the mark taken back", mark, err)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by deadline
	}
}

// TestKeyReusedWithSameRefusal: a key reused for another body is told so (422)
// even when the new request's refusal is byte for byte the stored one.
func TestKeyReusedWithSameRefusal(t *testing.T) {
	refuse := func(w http.ResponseWriter, r *http.Request) { http.Error(w, "taken", http.StatusConflict) }
	h := newHarness(t, refuse, time.Second)
	if rec := h.post("k", "alice", `{"seat":1}`); rec.Code != http.StatusConflict {
		t.Fatalf("first request: got %d, want 409", rec.Code)
	}
	// A second middleware on the same database, with markers that know nothing,
	// so that the request runs and meets the stored receipt.
	m := idempotency.New(idempotency.Config{
		Receipts: h.store, Markers: memory.NewMarkers(0),
		Scope: func(*http.Request, []byte) (string, error) { return "alice", nil },
		Fail: func(w http.ResponseWriter, _ *http.Request, err error) {
			if errors.Is(err, idempotency.ErrKeyReused) {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
			http.Error(w, err.Error(), 500)
		},
	})
	mux := http.NewServeMux()
	mux.Handle("POST /do", m.Wrap(http.HandlerFunc(refuse)))
	req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(`{"seat":2}`))
	req.Header.Set("Idempotency-Key", "k")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("same key, another body, same refusal: got %d %q, want 422", rec.Code, rec.Body)
	}
}

// TestRefusalsKeptShorter: a refusal's answer is kept for RefusalTTL, then
// forgotten, by the markers too, and the retry is judged afresh; a success's stays
// for TTL.
func TestRefusalsKeptShorter(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var refuse atomic.Bool
	refuse.Store(true)
	const refusalTTL = 50 * time.Millisecond
	m := idempotency.New(idempotency.Config{
		Receipts: store, Batch: store, Markers: memory.NewMarkers(0), RefusalTTL: refusalTTL,
		Scope: func(*http.Request, []byte) (string, error) { return "alice", nil },
		Fail:  func(w http.ResponseWriter, _ *http.Request, err error) { http.Error(w, err.Error(), 500) },
	})
	defer m.Close()
	mux := http.NewServeMux()
	mux.Handle("POST /do", m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			http.Error(w, "seats taken", http.StatusConflict)
			return
		}
		w.Write([]byte("sold"))
	})))
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", "k")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	if rec := post(); rec.Code != http.StatusConflict {
		t.Fatalf("first: got %d, want 409", rec.Code)
	}
	refuse.Store(false)
	if rec := post(); rec.Code != http.StatusConflict || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry within RefusalTTL: got %d %v, want the 409 replayed", rec.Code, rec.Header())
	}
	time.Sleep(2 * refusalTTL) // the retention is a span of time; nothing to poll
	if rec := post(); rec.Code != http.StatusOK || rec.Body.String() != "sold" {
		t.Errorf("retry after RefusalTTL: got %d %q, want it judged afresh", rec.Code, rec.Body)
	}
	if _, err := store.Receipt(t.Context(), "alice POST /do", "k"); err != nil {
		t.Errorf("the success's receipt: %v, want it kept", err)
	}
}

// stuckMarkers fail every claim, as a Redis that stopped answering does, and
// take back a mark only when told to stop.
type stuckMarkers struct {
	takenBack atomic.Bool
	started   chan struct{}
}

func (m *stuckMarkers) Claim(context.Context, string, string, string, time.Duration) (idempotency.Mark, error) {
	return idempotency.Mark{}, errors.New("i/o timeout")
}

func (m *stuckMarkers) Complete(context.Context, string, string, string, []byte, time.Duration) error {
	return nil
}

func (m *stuckMarkers) Record(context.Context, string, string, string, []byte, time.Duration) (idempotency.Mark, error) {
	return idempotency.Mark{}, errors.New("i/o timeout")
}

func (m *stuckMarkers) Abandon(ctx context.Context, _, _ string) error {
	close(m.started)
	<-ctx.Done()
	m.takenBack.Store(true)
	return ctx.Err()
}

// TestCloseEndsBackgroundWork: taking back the mark of a claim that failed
// goes on after the answer, and belongs to the middleware: Close ends it and
// waits for it.
func TestCloseEndsBackgroundWork(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	markers := &stuckMarkers{started: make(chan struct{})}
	m := idempotency.New(idempotency.Config{
		Receipts: store, Batch: store, Markers: markers, LeaseTTL: time.Hour,
		Scope: func(*http.Request, []byte) (string, error) { return "alice", nil },
		Fail:  func(w http.ResponseWriter, _ *http.Request, err error) { http.Error(w, err.Error(), 500) },
	})
	handler := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "taken", http.StatusConflict) }))
	req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", "k")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusConflict {
		t.Fatalf("got %d, want the handler's 409 with the markers down", rec.Code)
	}
	<-markers.started
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
	if !markers.takenBack.Load() {
		t.Error("Close returned before the take-back it started had ended")
	}
}
