package redis

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/booking"
	"seatmanager/idempotency"
	"seatmanager/internal/testenv"
	"seatmanager/markertest"
	"seatmanager/sqlite"
)

// newMarkers returns markers on the shared Redis with keys no other test sees.
func newMarkers(tb testing.TB) (*Markers, goredis.UniversalClient) {
	tb.Helper()
	client := openClient(tb, testenv.RedisAddr(tb))
	return NewMarkers(pipelined(tb, client), testenv.KeyPrefix(tb)), client
}

func TestMarkers(t *testing.T) {
	markertest.Run(t, func(t *testing.T) idempotency.Markers {
		m, _ := newMarkers(t)
		return m
	})
}

// TestMarkersKeys pins the key layout, the stored value and the ttls, which
// operators reading Redis rely on.
func TestMarkersKeys(t *testing.T) {
	m, client := newMarkers(t)
	ctx := t.Context()
	id, lease, fp := booking.NewID(), "lease-1", "fp-1"
	key := m.prefix + "idem:" + id
	wantKey := func(value string, ttl time.Duration) {
		t.Helper()
		if got, err := client.Get(ctx, key).Result(); err != nil || got != value {
			t.Fatalf("GET %s: got %q, %v, want %q, nil", key, got, err, value)
		}
		if got, err := client.PTTL(ctx, key).Result(); err != nil || got <= ttl-5*time.Second || got > ttl {
			t.Errorf("PTTL %s: got %v, %v, want about %v", key, got, err, ttl)
		}
	}

	const leaseTTL = 30 * time.Second
	if got, err := m.Claim(ctx, id, lease, fp, leaseTTL); err != nil || !got.Claimed {
		t.Fatalf("Claim: got %+v, %v, want Claimed, nil", got, err)
	}
	wantKey("F7:lease-14:fp-1", leaseTTL)

	const ttl = 24 * time.Hour
	if err := m.Complete(ctx, id, lease, fp, []byte("a\x00b"), ttl); err != nil {
		t.Fatalf("Complete: got %v, want nil", err)
	}
	wantKey("D7:lease-14:fp-1a\x00b", ttl)

	// A long id is hashed into a short key, still under the prefix.
	long := strings.Repeat("k", 10_000)
	if got, err := m.Claim(ctx, long, lease, fp, leaseTTL); err != nil || !got.Claimed {
		t.Fatalf("Claim of a long id: got %+v, %v, want Claimed, nil", got, err)
	}
	keys, err := client.Keys(ctx, m.prefix+"*").Result()
	if err != nil {
		t.Fatalf("KEYS: got %v, want nil", err)
	}
	if len(keys) != 2 {
		t.Fatalf("KEYS %s*: got %q, want 2 keys", m.prefix, keys)
	}
	for _, k := range keys {
		if k != key && !strings.HasPrefix(k, m.prefix+"idem-sha256:") || len(k) > len(m.prefix)+100 {
			t.Errorf("key of a long id: got %.120q, want %sidem-sha256:<hex>", k, m.prefix)
		}
	}

	// Sub-millisecond ttls round up rather than to zero, which Redis would refuse.
	other := booking.NewID()
	if got, err := m.Claim(ctx, other, lease, fp, time.Microsecond); err != nil || !got.Claimed {
		t.Errorf("Claim 1µs: got %+v, %v, want Claimed, nil", got, err)
	}
	if err := m.Complete(ctx, booking.NewID(), lease, fp, []byte("r"), time.Microsecond); err != nil {
		t.Errorf("Complete 1µs: got %v, want nil", err)
	}
}

// TestMarkersScriptFlush checks that the markers survive Redis forgetting their
// scripts (SCRIPT FLUSH, a restart, a failover): EVALSHA fails with NOSCRIPT and
// the script is sent again.
func TestMarkersScriptFlush(t *testing.T) {
	m, client := newMarkers(t)
	ctx := t.Context()
	flush := func() {
		t.Helper()
		if err := client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: got %v, want nil", err)
		}
	}
	id, a, b := booking.NewID(), booking.NewID(), booking.NewID()
	flush()
	if got, err := m.Claim(ctx, id, a, "fp", time.Minute); err != nil || !got.Claimed {
		t.Fatalf("Claim after flush: got %+v, %v, want Claimed, nil", got, err)
	}
	flush()
	if err := m.Abandon(ctx, id, a); err != nil {
		t.Fatalf("Abandon after flush: got %v, want nil", err)
	}
	if got, err := m.Claim(ctx, id, b, "fp", time.Minute); err != nil || !got.Claimed {
		t.Fatalf("Claim after Abandon: got %+v, %v, want Claimed, nil", got, err)
	}
	flush()
	if err := m.Complete(ctx, id, b, "fp", []byte("r"), time.Minute); err != nil {
		t.Fatalf("Complete after flush: got %v, want nil", err)
	}
	if got, err := m.Claim(ctx, id, a, "fp", time.Minute); err != nil || got.Claimed || string(got.Response) != "r" {
		t.Fatalf("Claim of the completed id: got %+v, %v, want the done mark, nil", got, err)
	}
}

// TestMarkersRedisError checks that keys the markers did not write reach the
// caller as errors, with context, not as panics or false answers.
func TestMarkersRedisError(t *testing.T) {
	m, client := newMarkers(t)
	ctx := t.Context()

	t.Run("WrongType", func(t *testing.T) {
		id := booking.NewID()
		if err := client.HSet(ctx, m.key(id), "f", "v").Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := m.Claim(ctx, id, "l", "fp", time.Minute); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), id) {
			t.Errorf("Claim over a hash: got %+v, %v, want a WRONGTYPE error naming %s", got, err, id)
		}
		if err := m.Complete(ctx, id, "l", "fp", []byte("r"), time.Minute); err == nil {
			t.Errorf("Complete over a hash: got nil error, want WRONGTYPE")
		}
		if err := m.Abandon(ctx, id, "l"); err == nil {
			t.Errorf("Abandon over a hash: got nil error, want WRONGTYPE")
		}
	})

	t.Run("Corrupt", func(t *testing.T) {
		for _, v := range []string{"x", "F", "F3:ab", "F2:ab", "F02:ab0:", "F-1:", "F1:a1:bextra", "D1:a1:b", "D99999999999999999999:"} {
			id := booking.NewID()
			if err := client.Set(ctx, m.key(id), v, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if got, err := m.Claim(ctx, id, "l", "fp", time.Minute); err == nil || !strings.Contains(err.Error(), "corrupt") {
				t.Errorf("Claim over %q: got %+v, %v, want a corrupt-mark error", v, got, err)
			}
		}
	})

	t.Run("NoTTL", func(t *testing.T) {
		id := booking.NewID()
		if err := client.Set(ctx, m.key(id), "F1:a1:b", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := m.Claim(ctx, id, "l", "fp", time.Minute); err == nil {
			t.Errorf("Claim of an in-flight mark without ttl: got %+v, nil, want an error", got)
		}
	})
}

// TestDecodeMark checks that every mark encodeMark writes reads back as it was.
func TestDecodeMark(t *testing.T) {
	tests := []struct {
		tag         byte
		lease, fp   string
		response    []byte
		wantEncoded string
	}{
		{tagInFlight, "", "", nil, "F0:0:"},
		{tagInFlight, "1:a", "2:", nil, "F3:1:a2:2:"},
		{tagDone, "l", "f", []byte{0}, "D1:l1:f\x00"},
		{tagDone, strings.Repeat("L", 12), "", []byte("3:x"), "D12:LLLLLLLLLLLL0:3:x"},
	}
	for _, tt := range tests {
		v := encodeMark(tt.tag, tt.lease, tt.fp, tt.response)
		if string(v) != tt.wantEncoded {
			t.Errorf("encodeMark(%c, %q, %q, %q): got %q, want %q", tt.tag, tt.lease, tt.fp, tt.response, v, tt.wantEncoded)
		}
		tag, lease, fp, resp, err := decodeMark(string(v))
		if err != nil || tag != tt.tag || lease != tt.lease || fp != tt.fp || string(resp) != string(tt.response) {
			t.Errorf("decodeMark(%q): got %c, %q, %q, %q, %v, want %c, %q, %q, %q, nil", v, tag, lease, fp, resp, err, tt.tag, tt.lease, tt.fp, tt.response)
		}
		if tt.tag == tagInFlight && !strings.HasPrefix(string(v), inFlightPrefix(tt.lease)) {
			t.Errorf("mark %q: got no prefix %q, want it", v, inFlightPrefix(tt.lease))
		}
	}
}

// TestMarkersRedisKilled checks that markers whose Redis died answer with an
// error at once, so that the middleware falls back to the database instead of
// stalling every request, and that they work again when Redis is back.
func TestMarkersRedisKilled(t *testing.T) {
	srv := testenv.StartRedis(t)
	m := NewMarkers(pipelined(t, openClient(t, srv.Addr())), testenv.KeyPrefix(t))
	id := booking.NewID()
	if got, err := m.Claim(t.Context(), id, booking.NewID(), "fp", time.Minute); err != nil || !got.Claimed {
		t.Fatalf("Claim: got %+v, %v, want Claimed, nil", got, err)
	}
	srv.Kill(t)
	for range 3 { // the first call meets dead pooled connections, later ones dial
		start := time.Now()
		got, err := m.Claim(t.Context(), id, booking.NewID(), "fp", time.Minute)
		if elapsed := time.Since(start); err == nil || elapsed > time.Second {
			t.Fatalf("Claim on a dead Redis: got %+v, %v after %v, want an error within 1s", got, err, elapsed)
		}
		t.Logf("dead: %v after %v", err, time.Since(start))
		start = time.Now()
		err = m.Complete(t.Context(), id, booking.NewID(), "fp", []byte("r"), time.Minute)
		if elapsed := time.Since(start); err == nil || elapsed > time.Second {
			t.Fatalf("Complete on a dead Redis: got error %v after %v, want an error within 1s", err, elapsed)
		}
		start = time.Now()
		err = m.Abandon(t.Context(), id, booking.NewID())
		if elapsed := time.Since(start); err == nil || elapsed > time.Second {
			t.Fatalf("Abandon on a dead Redis: got error %v after %v, want an error within 1s", err, elapsed)
		}
	}
	srv.Start(t)
	// The restarted server is empty; the pool reconnects on its own.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := m.Claim(t.Context(), id, booking.NewID(), "fp", time.Minute)
		if err == nil && got.Claimed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Claim 5s after restart: got %+v, %v, want Claimed, nil", got, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, bounded by deadline
	}
}

// BenchmarkMarkers measures one request's worth of markers: Claim, then
// Complete, two round trips to the shared test Redis.
func BenchmarkMarkers(b *testing.B) {
	m, _ := newMarkers(b)
	ctx := b.Context()
	resp := []byte(`{"holdToken":"0b7c8e2a-6f0e-4c4e-9a55-0d1f2e3a4b5c","expiresAt":"2030-01-01T20:01:00Z"}`)
	for b.Loop() {
		id, lease := booking.NewID(), booking.NewID()
		if got, err := m.Claim(ctx, id, lease, "fp", time.Minute); err != nil || !got.Claimed {
			b.Fatalf("Claim: got %+v, %v, want Claimed, nil", got, err)
		}
		// A short ttl, so that the keys of a long run do not linger in the
		// shared server.
		if err := m.Complete(ctx, id, lease, "fp", resp, 10*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMiddlewareRedisStuck checks that a Redis that stops answering costs a keyed
// request no more than the middleware's MarkerTimeout per marker call: the
// pipeliner ignores its callers' contexts, so the bound has to come from the
// calls' own.
func TestMiddlewareRedisStuck(t *testing.T) {
	srv := testenv.StartRedis(t)
	client := openClient(t, srv.Addr())
	admin := openClient(t, srv.Addr())
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m := idempotency.New(idempotency.Config{
		Receipts: store, Markers: NewMarkers(pipelined(t, client), testenv.KeyPrefix(t)),
		MarkerTimeout: 100 * time.Millisecond,
		Scope:         func(*http.Request, []byte) (string, error) { return "alice", nil },
		Fail:          func(w http.ResponseWriter, _ *http.Request, err error) { http.Error(w, err.Error(), 500) },
	})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("done")) }))
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", 3000, "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: got %v, want nil", err)
	}
	t.Cleanup(func() { _ = admin.Do(context.Background(), "CLIENT", "UNPAUSE").Err() })

	req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", "k")
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	// A claim and a completion, each bounded, with margin for a loaded machine;
	// the client's own timeouts would take over a second each.
	if elapsed := time.Since(start); rec.Code != http.StatusOK || rec.Body.String() != "done" || elapsed > 700*time.Millisecond {
		t.Errorf("keyed request with Redis paused: got %d %q after %v, want 200 \"done\" within 700ms", rec.Code, rec.Body, elapsed)
	}
}

// TestGateRefusalKeptInRedis: with Redis's markers (SharedMarkers), a hold
// refused at the gate on other users' seats leaves no receipt in the
// database, and its retry on a fresh middleware, as on seatd restarted or
// another instance, is the same 409 replayed from Redis. (The retry asks the
// gate again, as every hold does before it claims its key.)
func TestGateRefusalKeptInRedis(t *testing.T) {
	markers, _ := newMarkers(t)
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	runs := 0
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		idempotency.For(r, func(any) (idempotency.Response, error) { return idempotency.Response{}, nil }).OnGateRefusal()
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"title":"seats unavailable"}`))
	})
	instance := func() http.Handler {
		m := idempotency.New(idempotency.Config{
			Receipts: store, Markers: markers, SharedMarkers: true,
			Scope: func(*http.Request, []byte) (string, error) { return "bob", nil },
			Fail:  func(w http.ResponseWriter, _ *http.Request, err error) { http.Error(w, err.Error(), 500) },
		})
		t.Cleanup(m.Close)
		mux := http.NewServeMux() // the route's pattern is part of the receipt's scope
		mux.Handle("POST /do", m.Wrap(refuse))
		return mux
	}
	post := func(h http.Handler) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(`{"seatIds":["a"]}`))
		req.Header.Set("Idempotency-Key", "bob-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	first := post(instance())
	if first.Code != http.StatusConflict {
		t.Fatalf("first: got %d %q, want the 409", first.Code, first.Body)
	}
	if _, err := store.Receipt(t.Context(), "bob POST /do", "bob-1"); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("receipt in the database: got %v, want none (ErrNotFound)", err)
	}
	again := post(instance())
	if again.Code != http.StatusConflict || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" || runs != 2 {
		t.Errorf("retry on a fresh instance: got %d %q, headers %v, after %d runs; want the 409 replayed from Redis, after 2", again.Code, again.Body, again.Header(), runs)
	}
}
