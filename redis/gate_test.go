package redis

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/booking"
	"seatmanager/gatetest"
	"seatmanager/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// openClient opens a client on the Redis at addr the way seatd does, and closes it
// when the test ends.
func openClient(tb testing.TB, addr string) goredis.UniversalClient {
	tb.Helper()
	return openClientURL(tb, "redis://"+addr)
}

// pipelined returns client's automatic pipeliner, through which seatd sends the
// adapters' commands.
func pipelined(tb testing.TB, client goredis.UniversalClient) Commander {
	tb.Helper()
	ap, err := Pipelined(client)
	if err != nil {
		tb.Fatalf("Pipelined: got error %v, want nil", err)
	}
	return ap
}

// newGate returns a gate on the shared Redis with keys no other test sees, which
// sends its commands the way seatd does, and a plain client on the same Redis.
func newGate(tb testing.TB) (*Gate, goredis.UniversalClient) {
	tb.Helper()
	client := openClient(tb, testenv.RedisAddr(tb))
	return NewGate(pipelined(tb, client), testenv.KeyPrefix(tb)), client
}

func TestGate(t *testing.T) {
	gatetest.Run(t, func(t *testing.T) booking.Gate {
		g, _ := newGate(t)
		return g
	})
	t.Run("without pipelining", func(t *testing.T) {
		gatetest.Run(t, func(t *testing.T) booking.Gate {
			return NewGate(openClient(t, testenv.RedisAddr(t)), testenv.KeyPrefix(t))
		})
	})
}

// TestGateKeys pins the key layout and ttl, which operators and the expiry
// listener rely on, and which Redis Cluster needs to keep a request in one slot.
func TestGateKeys(t *testing.T) {
	g, client := newGate(t)
	ctx := t.Context()
	show, seat, token := booking.NewID(), booking.NewID(), booking.NewID()
	const ttl = 30 * time.Second
	if taken, err := g.Acquire(ctx, show, token, []string{seat}, ttl); err != nil || len(taken) != 0 {
		t.Fatalf("Acquire: got %v, %v, want none, nil", taken, err)
	}
	key := g.prefix + "{" + show + "}:seat:" + seat
	if got, err := client.Get(ctx, key).Result(); err != nil || got != token {
		t.Fatalf("GET %s: got %q, %v, want %q, nil", key, got, err, token)
	}
	if got, err := client.PTTL(ctx, key).Result(); err != nil || got <= ttl-5*time.Second || got > ttl {
		t.Errorf("PTTL %s: got %v, %v, want about %v", key, got, err, ttl)
	}
	// Sub-millisecond ttls round up rather than to zero, which Redis would refuse.
	if taken, err := g.Acquire(ctx, show, token, []string{seat}, time.Microsecond); err != nil || len(taken) != 0 {
		t.Errorf("Acquire 1µs: got %v, %v, want none, nil", taken, err)
	}
	if err := g.Release(ctx, show, token, []string{seat}); err != nil {
		t.Fatalf("Release: got %v, want nil", err)
	}
	if n, err := client.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS %s after Release: got %d, %v, want 0, nil", key, n, err)
	}
}

// TestGateScriptFlush checks that the gate survives Redis forgetting its scripts
// (SCRIPT FLUSH, a restart, a failover to a replica that never saw them): EVALSHA
// fails with NOSCRIPT and the script is sent again.
func TestGateScriptFlush(t *testing.T) {
	g, client := newGate(t)
	ctx := t.Context()
	show, seats := booking.NewID(), []string{booking.NewID(), booking.NewID()}
	a, b := booking.NewID(), booking.NewID()
	flush := func() {
		t.Helper()
		if err := client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: got %v, want nil", err)
		}
	}
	flush()
	if taken, err := g.Acquire(ctx, show, a, seats, time.Minute); err != nil || len(taken) != 0 {
		t.Fatalf("Acquire after flush: got %v, %v, want none, nil", taken, err)
	}
	flush()
	if taken, err := g.Acquire(ctx, show, b, seats, time.Minute); err != nil || len(taken) != 2 {
		t.Fatalf("Acquire held seats after flush: got %v, %v, want both seats taken, nil", taken, err)
	}
	flush()
	if err := g.Release(ctx, show, a, seats); err != nil {
		t.Fatalf("Release after flush: got %v, want nil", err)
	}
	if taken, err := g.Acquire(ctx, show, b, seats, time.Minute); err != nil || len(taken) != 0 {
		t.Fatalf("Acquire released seats: got %v, %v, want none, nil", taken, err)
	}
}

// TestGateRedisError checks that an error inside the script reaches the caller as
// an error, with context, not as a panic or a false answer.
func TestGateRedisError(t *testing.T) {
	g, client := newGate(t)
	ctx := t.Context()
	show, seat := booking.NewID(), booking.NewID()
	// A key of the wrong type makes GET fail inside the script.
	if err := client.HSet(ctx, g.key(show, seat), "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	taken, err := g.Acquire(ctx, show, booking.NewID(), []string{seat}, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), show) {
		t.Errorf("Acquire over a hash: got %v, %v, want a WRONGTYPE error naming show %s", taken, err, show)
	}
	if err := g.Release(ctx, show, booking.NewID(), []string{seat}); err == nil {
		t.Errorf("Release over a hash: got nil error, want WRONGTYPE")
	}
}

// TestGateRedisKilled checks that a gate whose Redis died answers with an error at
// once, so that the Service bypasses it instead of stalling every hold, and that
// it works again when Redis is back.
func TestGateRedisKilled(t *testing.T) {
	srv := testenv.StartRedis(t)
	g := NewGate(pipelined(t, openClient(t, srv.Addr())), testenv.KeyPrefix(t))
	show, seats := booking.NewID(), []string{booking.NewID()}
	if taken, err := g.Acquire(t.Context(), show, booking.NewID(), seats, time.Minute); err != nil || len(taken) != 0 {
		t.Fatalf("Acquire: got %v, %v, want none, nil", taken, err)
	}
	srv.Kill(t)
	for range 3 { // the first call meets dead pooled connections, later ones dial
		start := time.Now()
		_, err := g.Acquire(t.Context(), show, booking.NewID(), seats, time.Minute)
		if elapsed := time.Since(start); err == nil || elapsed > time.Second {
			t.Fatalf("Acquire on a dead Redis: got error %v after %v, want an error within 1s", err, elapsed)
		}
		t.Logf("dead: %v after %v", err, time.Since(start))
		start = time.Now()
		err = g.Release(t.Context(), show, booking.NewID(), seats)
		if elapsed := time.Since(start); err == nil || elapsed > time.Second {
			t.Fatalf("Release on a dead Redis: got error %v after %v, want an error within 1s", err, elapsed)
		}
	}
	srv.Start(t)
	// The restarted server is empty; the pool reconnects on its own.
	deadline := time.Now().Add(5 * time.Second)
	for {
		taken, err := g.Acquire(t.Context(), show, booking.NewID(), seats, time.Minute)
		if err == nil && len(taken) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Acquire 5s after restart: got %v, %v, want none, nil", taken, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, bounded by deadline
	}
}

// TestGateRedisStuck checks the other kind of outage: Redis accepts the command
// but does not answer. The caller's deadline ends the wait; without one, the
// client's timeouts do (the pipeliner's batch gets a read timeout and a retry:
// about a second, which is why the Service always gives the gate a deadline).
func TestGateRedisStuck(t *testing.T) {
	srv := testenv.StartRedis(t)
	client := openClient(t, srv.Addr())
	admin := openClient(t, srv.Addr())
	g := NewGate(pipelined(t, client), testenv.KeyPrefix(t))
	show, seats := booking.NewID(), []string{booking.NewID()}
	// CLIENT PAUSE makes Redis hold every client's commands unanswered.
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", 3000, "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: got %v, want nil", err)
	}
	t.Cleanup(func() { _ = admin.Do(context.Background(), "CLIENT", "UNPAUSE").Err() })

	start := time.Now()
	_, err := g.Acquire(t.Context(), show, booking.NewID(), seats, time.Minute)
	if elapsed := time.Since(start); err == nil || elapsed > 2*time.Second {
		t.Fatalf("Acquire on a paused Redis: got error %v after %v, want an error within 2s", err, elapsed)
	}
	t.Logf("paused: %v after %v", err, time.Since(start))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = g.Acquire(ctx, show, booking.NewID(), seats, time.Minute)
	if elapsed := time.Since(start); err == nil || elapsed > 200*time.Millisecond {
		t.Errorf("Acquire with a 50ms deadline on a paused Redis: got error %v after %v, want the deadline to end it", err, elapsed)
	}
	t.Logf("deadline: %v after %v", err, time.Since(start))
}

// TestOpen checks the URL forms seatd is configured with.
func TestOpen(t *testing.T) {
	addr := testenv.RedisAddr(t)
	ctx := t.Context()

	t.Run("Database", func(t *testing.T) {
		key := testenv.KeyPrefix(t) + "db"
		db3 := openClientURL(t, "redis://"+addr+"/3")
		if err := db3.Set(ctx, key, "3", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db3.Del(context.Background(), key) })
		if got, err := openClientURL(t, "redis://"+addr+"?db=3").Get(ctx, key).Result(); err != nil || got != "3" {
			t.Errorf("GET in db 3: got %q, %v, want \"3\", nil", got, err)
		}
		if n, err := openClientURL(t, "redis://"+addr+"/0").Exists(ctx, key).Result(); err != nil || n != 0 {
			t.Errorf("EXISTS in db 0: got %d, %v, want 0, nil", n, err)
		}
	})

	t.Run("Timeouts", func(t *testing.T) {
		c := openClientURL(t, "redis://"+addr)
		opt := c.(*goredis.Client).Options()
		if opt.DialTimeout != dialTimeout || opt.ReadTimeout != ioTimeout || opt.MaxRetries != maxRetries || !opt.ContextTimeoutEnabled {
			t.Errorf("options: got dial %v read %v retries %d context %v, want %v %v %d true",
				opt.DialTimeout, opt.ReadTimeout, opt.MaxRetries, opt.ContextTimeoutEnabled, dialTimeout, ioTimeout, maxRetries)
		}
		// A timeout the URL sets wins over the default.
		c = openClientURL(t, "redis://"+addr+"?read_timeout=2s")
		if got := c.(*goredis.Client).Options().ReadTimeout; got != 2*time.Second {
			t.Errorf("read_timeout=2s: got %v, want 2s", got)
		}
	})

	t.Run("BadURL", func(t *testing.T) {
		for _, u := range []string{"http://localhost", "redis://:s3cret@%zz", "redis://" + addr + "/notadb"} {
			c, err := Open(ctx, u)
			if err == nil {
				_ = c.Close()
				t.Errorf("Open(%q): got nil error, want one", u)
				continue
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open(%q): got error %q, want it not to show the password", u, err)
			}
		}
	})

	t.Run("Refused", func(t *testing.T) {
		start := time.Now()
		c, err := Open(ctx, "redis://"+closedAddr(t))
		if elapsed := time.Since(start); err == nil || elapsed > time.Second {
			if c != nil {
				_ = c.Close()
			}
			t.Errorf("Open of a closed port: got error %v after %v, want an error within 1s", err, elapsed)
		}
	})

	t.Run("Silent", func(t *testing.T) {
		// A server that accepts connections and never answers is what a hung Redis
		// looks like from here: Open must give up on its own, without a deadline.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			for {
				c, err := ln.Accept()
				if err != nil {
					return // the listener closed at cleanup
				}
				conns = append(conns, c)
			}
		}()
		start := time.Now()
		c, err := Open(context.Background(), "redis://"+ln.Addr().String())
		if elapsed := time.Since(start); err == nil || elapsed > time.Second {
			if c != nil {
				_ = c.Close()
			}
			t.Errorf("Open of a silent server: got error %v after %v, want an error within 1s", err, elapsed)
		}
	})
}

func openClientURL(tb testing.TB, u string) goredis.UniversalClient {
	tb.Helper()
	client, err := Open(tb.Context(), u)
	if err != nil {
		tb.Fatalf("Open(%s): got error %v, want nil", u, err)
	}
	tb.Cleanup(func() { _ = client.Close() })
	return client
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func BenchmarkGate(b *testing.B) {
	g, _ := newGate(b)
	show := booking.NewID()
	seats := []string{booking.NewID(), booking.NewID(), booking.NewID(), booking.NewID()}
	ctx := b.Context()
	for b.Loop() {
		token := booking.NewID()
		if taken, err := g.Acquire(ctx, show, token, seats, time.Minute); err != nil || len(taken) != 0 {
			b.Fatalf("Acquire: got %v, %v, want none, nil", taken, err)
		}
		if err := g.Release(ctx, show, token, seats); err != nil {
			b.Fatal(err)
		}
	}
}
