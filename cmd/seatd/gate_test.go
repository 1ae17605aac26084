package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/booking"
	"seatmanager/internal/testenv"
	"seatmanager/redis"
)

// The seat gate may only speed up a refusal the database would give. These
// tests leave keys in Redis that the database contradicts, in the ways that
// happen: a key set by a request that never reached the database (a seatd
// killed in between), and a database recreated under the same Redis and
// prefix; each buyer of such a seat must get it.

// staleKeys sets gate keys on seats under a token no hold has, as a request
// killed between the gate and the database leaves them.
func staleKeys(t *testing.T, redisAddr, prefix, showID string, seats []string) string {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	defer client.Close()
	token := booking.NewID()
	claims, err := redis.NewGate(client, prefix).Acquire(t.Context(), showID, token, seats, time.Minute)
	if err != nil || len(claims) != 0 {
		t.Fatalf("setting stale keys: got (%v, %v)", claims, err)
	}
	return token
}

// gateOwner returns the token the gate has for a seat, or "".
func gateOwner(t *testing.T, redisAddr, prefix, showID, seat string) string {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	defer client.Close()
	claims, err := redis.NewGate(client, prefix).Acquire(t.Context(), showID, booking.NewID(), []string{seat}, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) == 0 {
		return ""
	}
	return claims[0].Token
}

func TestStaleGateKeysRepaired(t *testing.T) {
	env := backendEnv(t, "postgres+redis")
	s := startSeatd(t, env)
	c := newClient(t, s.url)
	_, m := c.firstShow(t)
	seats := seatIDs(m)
	addr, prefix := testenv.RedisAddr(t), env["SEATD_REDIS_PREFIX"]
	stale := staleKeys(t, addr, prefix, m.ShowID, seats[:3])

	// A keyed hold: its answer is stored, and a retry must replay the sale,
	// not a refusal.
	httpc := &http.Client{Timeout: 10 * time.Second}
	body := fmt.Sprintf(`{"seatIds":["%s","%s"],"userId":"bob"}`, seats[0], seats[1])
	start := time.Now()
	first := keyedPost(httpc, s.url+"/api/seats/hold-bulk", "bob-1", body)
	if !first.got || first.status != http.StatusOK {
		t.Fatalf("hold of free seats behind stale gate keys: got %d %s, want 200", first.status, first.body)
	}
	t.Logf("hold behind stale keys answered in %v", time.Since(start))
	again := keyedPost(httpc, s.url+"/api/seats/hold-bulk", "bob-1", body)
	if again.status != http.StatusOK || string(again.body) != string(first.body) {
		t.Errorf("retry: got %d %s, want the first answer %s", again.status, again.body, first.body)
	}
	token := jsonField(t, first.body, "holdToken")
	if got := gateOwner(t, addr, prefix, m.ShowID, seats[0]); got != token {
		t.Errorf("gate key of seat 0 after the repair: got token %q, want the new hold's %q", got, token)
	}
	if got := gateOwner(t, addr, prefix, m.ShowID, seats[2]); got != stale {
		t.Errorf("gate key of seat 2, which nobody asked for: got %q, want it untouched (%q)", got, stale)
	}
	// A seat the database has taken is still refused, at the gate.
	c.mustCall(t, "POST", "/api/seats/hold-bulk", map[string]any{"seatIds": seats[1:2], "userId": "carol"}, 409, nil)
	if n := c.metric(t, "seatd_gate_claims_repaired_total"); n != 2 {
		t.Errorf("seatd_gate_claims_repaired_total: got %v, want 2", n)
	}
}

// TestDemoRecreatedUnderSameRedis: a fresh demo database has the same seat
// ids as the one before it; the old one's keys in Redis must not refuse them.
func TestDemoRecreatedUnderSameRedis(t *testing.T) {
	env := backendEnv(t, "sqlite+redis")
	s := startSeatd(t, env)
	c := newClient(t, s.url)
	_, m := c.firstShow(t)
	seats := seatIDs(m)[:4]
	c.hold(t, "alice", seats[:2]...)
	c.hold(t, "bob", seats[2:]...)
	c.http.CloseIdleConnections()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	env["SEATD_DATABASE_URL"] = filepath.Join(t.TempDir(), "seatd.db")
	s = startSeatd(t, env)
	c = newClient(t, s.url)
	_, again := c.firstShow(t)
	if again.ShowID != m.ShowID {
		t.Fatalf("the new demo database has show %s, want the same ids as before (%s)", again.ShowID, m.ShowID)
	}
	c.hold(t, "carol", seats...)
}

// TestRedisStallLeavesNoWrongRefusal: Redis is stopped (SIGSTOP) while buyers
// hold and release; seatd gives up on the gate and the database decides. When
// Redis wakes, it runs the commands it had been sent, and keys set for holds
// since released may stand. Every seat the database calls free must then be
// sold to whoever asks.
func TestRedisStallLeavesNoWrongRefusal(t *testing.T) {
	r := testenv.StartRedis(t)
	env := map[string]string{
		"SEATD_DATABASE_URL": testenv.PostgresURL(t), "SEATD_DEMO": "true",
		"SEATD_REDIS_URL": "redis://" + r.Addr() + "/0", "SEATD_REDIS_PREFIX": testenv.KeyPrefix(t),
	}
	s := startSeatd(t, env)
	c := newClient(t, s.url)
	_, m := c.firstShow(t)
	seats := seatIDs(m)[:12]

	// Buyers hold and release, each its own seat, for the whole stall.
	r.Freeze(t)
	stall := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for i, seat := range seats {
		wg.Go(func() {
			user := fmt.Sprint("stalled-", i)
			for time.Now().Before(stall) {
				c.hold(t, user, seat)
				c.mustCall(t, "POST", "/api/seats/release-bulk", map[string]any{"seatIds": []string{seat}, "userId": user}, 200, nil)
			}
		})
	}
	wg.Wait()
	r.Thaw(t)

	// Wait until Redis answers again, then count the keys it was left with.
	client := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	defer client.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis after SIGCONT: %v", err)
	}
	left := 0
	for _, seat := range seats {
		if gateOwner(t, r.Addr(), env["SEATD_REDIS_PREFIX"], m.ShowID, seat) != "" {
			left++
		}
	}
	t.Logf("gate keys left on %d of %d released seats after the stall", left, len(seats))
	for i, seat := range seats {
		c.hold(t, fmt.Sprint("after-", i), seat)
	}
}
