package main

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/internal/testenv"
)

// TestDrillRedisPrimaryKilled (docs/RELIABILITY.md, drill 1): a Redis primary
// watched by three sentinels is SIGKILLed during a 500-buyer storm on two
// seatd. The database keeps deciding: no 5xx, no seat sold twice. The
// sentinels promote the replica; seatd follows by itself, uses the gate on
// the new primary again, and a lapsed hold of an instance that died is
// released there by its keyspace event.
func TestDrillRedisPrimaryKilled(t *testing.T) {
	ha := testenv.StartSentinels(t)
	env := map[string]string{
		"SEATD_DATABASE_URL":    testenv.PostgresURL(t),
		"SEATD_DEMO":            "true",
		"SEATD_REDIS_SENTINELS": ha.Addrs()[0] + "," + ha.Addrs()[1] + "," + ha.Addrs()[2],
		"SEATD_REDIS_MASTER":    testenv.MasterName,
		"SEATD_REDIS_PREFIX":    testenv.KeyPrefix(t),
		"SEATD_SWEEP_INTERVAL":  "0", // lapsed holds must be released by events alone
	}
	a, b := newClient(t, startSeatd(t, env).url), newClient(t, startSeatd(t, env).url)
	show, m := a.firstShow(t)
	seats := seatIDs(m)
	old := ha.Primary.Addr()

	// Waves of 500 buyers (half on each instance) on 10 fresh seats each, one
	// after the other, from before the kill until the gate is used on the
	// promoted replica: the load spans the whole failover.
	var killedAt time.Time
	killed := make(chan struct{})
	var once sync.Once
	kill := func(done int) {
		if done == stormUsers/10 {
			once.Do(func() {
				pid := ha.Primary.Pid()
				killedAt = time.Now()
				ha.Primary.Kill(t)
				close(killed)
				t.Logf("SIGKILLed the Redis primary (pid %d, %s) after %d buyers of the first wave", pid, old, done)
			})
		}
	}
	db := openDB(t, env["SEATD_DATABASE_URL"])
	// The failover is timed by asking the sentinels every 20 ms from the kill.
	type promotion struct {
		addr string
		took time.Duration
	}
	promotedCh := make(chan promotion, 1)
	go func() {
		<-killed
		for time.Since(killedAt) < 30*time.Second {
			if addr, err := ha.PrimaryAddr(context.Background()); err == nil && addr != old {
				promotedCh <- promotion{addr, time.Since(killedAt)}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(promotedCh)
	}()
	var promoted promotion
	var gateBack time.Duration
	w := waves(t, db, show.ID, seats, []*client{a, b}, map[string][]string{}, kill, func(wave int, ws []string) bool {
		// The gate is back once a wave that began after the promotion left
		// a key on the new primary (keys of earlier waves may have been
		// replicated to it before the kill).
		if promoted.addr != "" && gateOwner(t, promoted.addr, env["SEATD_REDIS_PREFIX"], show.ID, ws[0]) != "" {
			gateBack = time.Since(killedAt)
			return true
		}
		// A wave takes a fraction of a second, and the waves the seats
		// allow must outlast the failover (down-after, election, and seatd
		// coming back to the gate), not rush through it: the next wave waits
		// a while, for the promotion until it comes.
		select {
		case p, ok := <-promotedCh:
			if !ok {
				t.Fatal("the sentinels named no new primary within 30s of the kill")
			}
			promoted = p
		case <-time.After(wavePause):
		}
		if wave == 9 {
			t.Fatalf("after %d waves (%v after the kill), the gate is not used on a new primary (sentinels name %q)", wave+1, time.Since(killedAt), promoted.addr)
		}
		return false
	})
	t.Logf("failover: the sentinels named %s the primary %v after the kill; the gate was used there %v after it; %s",
		promoted.addr, promoted.took.Round(time.Millisecond), gateBack.Round(time.Millisecond), w)
	seats = seats[w.waves*stormSeats:]

	// An instance that dies leaves a hold behind; its expiry event, on the new
	// primary, has the survivors release it.
	short := map[string]string{"SEATD_HOLD_TTL": "1s"}
	for k, v := range env {
		short[k] = v
	}
	maker := startSeatd(t, short)
	mc := newClient(t, maker.url)
	var orphans []holdJSON
	for i := range 10 {
		orphans = append(orphans, mc.hold(t, fmt.Sprintf("orphan-%d", i), seats[i]))
	}
	mc.http.CloseIdleConnections()
	if err := maker.stop(); err != nil {
		t.Fatal(err)
	}
	var worst time.Duration
	for _, h := range orphans {
		worst = max(worst, awaitRelease(t, db, true, h, 5*time.Second))
	}
	t.Logf("a dead instance's %d holds were released by event on the new primary, the last %v after its expiry", len(orphans), worst)
	if got := a.released(t, "event") + b.released(t, "event"); got != float64(len(orphans)) {
		t.Errorf("holds released by event: got %v, want %d", got, len(orphans))
	}
	if worst > 100*time.Millisecond {
		t.Errorf("the last released %v after its expiry; want within 100ms", worst)
	}
}

// wavePause is how long a drill's next wave waits for the failover it spans
// (less once the failover is seen): ten waves span up to five seconds of it.
const wavePause = 500 * time.Millisecond

// waveRun is what the waves of a drill came to.
type waveRun struct {
	waves    int
	statuses map[string]int
	slowest  time.Duration
}

func (w waveRun) String() string {
	return fmt.Sprintf("%d waves of %d buyers, the slowest answer in %v, answers by status: %v",
		w.waves, stormUsers, w.slowest.Round(time.Millisecond), w.statuses)
}

// waves runs storms of stormUsers buyers, spread over clients, on stormSeats
// fresh seats each, one after the other, until done says so after a wave;
// progress is told of the first wave's buyers as they finish. After each
// wave it fails t on any 5xx or transport error, and checks in SQL that no
// seat was sold twice and every sale of the show is one a buyer was told
// of: told gathers them, across calls.
func waves(t *testing.T, db *sql.DB, showID string, seats []string, clients []*client, told map[string][]string, progress func(done int), done func(wave int, seats []string) bool) waveRun {
	t.Helper()
	run := waveRun{statuses: map[string]int{}}
	for wave := 0; ; wave++ {
		if (wave+1)*stormSeats > len(seats) {
			t.Fatalf("out of seats after %d waves", wave)
		}
		ws := seats[wave*stormSeats : (wave+1)*stormSeats]
		results := make([]*stormResult, len(clients))
		var wg sync.WaitGroup
		for i, c := range clients {
			p := progress
			if i > 0 || wave > 0 {
				p = nil
			}
			wg.Go(func() { results[i] = storm(t, c, ws, stormUsers/len(clients), p) })
		}
		wg.Wait()
		run.waves++
		for _, r := range results {
			r.wantNoFailures(t)
			run.slowest = max(run.slowest, r.slowest)
			for k, v := range r.told {
				told[k] = v
			}
			for k, n := range r.statuses() {
				run.statuses[k] += n
			}
		}
		checkSales(t, db, showID, told)
		if done(wave, ws) {
			return run
		}
	}
}

// redisDrill starts two seatd on PostgreSQL and a Redis of their own, and
// returns it, their clients, the database and the first show's seats.
func redisDrill(t *testing.T) (*testenv.Redis, []*client, *sql.DB, string, []string, map[string]string) {
	t.Helper()
	r := testenv.StartRedis(t) // no AOF: a restart forgets everything
	env := map[string]string{
		"SEATD_DATABASE_URL": testenv.PostgresURL(t), "SEATD_DEMO": "true",
		"SEATD_REDIS_URL": "redis://" + r.Addr() + "/0", "SEATD_REDIS_PREFIX": testenv.KeyPrefix(t),
	}
	a, b := newClient(t, startSeatd(t, env).url), newClient(t, startSeatd(t, env).url)
	show, m := a.firstShow(t)
	return r, []*client{a, b}, openDB(t, env["SEATD_DATABASE_URL"]), show.ID, seatIDs(m), env
}

// TestDrillRedisFlushedAndRestarted (docs/RELIABILITY.md, drill 2): Redis
// loses every key (FLUSHALL), then is killed and restarted without
// persistence, during storms on two seatd: no 5xx, no seat sold twice, and
// the gate is used again afterwards.
func TestDrillRedisFlushedAndRestarted(t *testing.T) {
	r, clients, db, showID, seats, env := redisDrill(t)
	client := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	defer client.Close()
	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	var flushed, killed sync.Once
	var flushing sync.WaitGroup
	flushing.Add(1)
	fault := func(done int) {
		switch done {
		case stormUsers / 10:
			flushed.Do(func() {
				defer flushing.Done()
				if err := client.FlushAll(context.Background()).Err(); err != nil {
					t.Errorf("FLUSHALL: %v", err)
				}
			})
		case stormUsers / 4:
			killed.Do(func() { flushing.Wait(); r.Kill(t) })
		}
	}
	var back time.Duration
	var restartedAt time.Time
	w := waves(t, db, showID, seats, clients, map[string][]string{}, fault, func(wave int, ws []string) bool {
		if wave == 0 {
			r.Start(t)
			restartedAt = time.Now()
			return false
		}
		if gateOwner(t, r.Addr(), env["SEATD_REDIS_PREFIX"], showID, ws[0]) != "" {
			back = time.Since(restartedAt)
			return true
		}
		if wave == 9 {
			t.Fatalf("the gate was not used again within %d waves of the restart", wave)
		}
		return false
	})
	t.Logf("flushed and restarted mid-storm: the gate used again %v after the restart; %s", back.Round(time.Millisecond), w)
}

// TestDrillRedisPaused (docs/RELIABILITY.md, drill 5): Redis stops (SIGSTOP)
// for 5 s during storms on two seatd: answers keep coming, bounded by the
// gate's timeout rather than the stall, with no 5xx and no seat sold twice.
func TestDrillRedisPaused(t *testing.T) {
	const stall = 5 * time.Second
	r, clients, db, showID, seats, _ := redisDrill(t)
	var once sync.Once
	thawed := make(chan struct{})
	fault := func(done int) {
		if done == stormUsers/10 {
			once.Do(func() {
				r.Freeze(t)
				timer := time.AfterFunc(stall, func() {
					defer close(thawed)
					r.Thaw(t)
				})
				t.Cleanup(func() { timer.Stop() })
			})
		}
	}
	// One wave first, untouched: how long answers take on this machine now.
	told := map[string][]string{}
	calm := waves(t, db, showID, seats, clients, told, nil, func(int, []string) bool { return true })
	seats = seats[calm.waves*stormSeats:]
	during := waves(t, db, showID, seats, clients, told, fault, func(int, []string) bool {
		select {
		case <-thawed:
			return true
		default:
			return false
		}
	})
	t.Logf("Redis paused for %v, from %d buyers into the first wave: %s; before it, the slowest answer took %v",
		stall, stormUsers/10, during, calm.slowest.Round(time.Millisecond))
	// A request meets the stalled Redis at most four times (the rate
	// limiter, the marker's claim, the gate, the marker's answer), 250 ms
	// each, before the breakers open: the stall itself (5 s) must not show.
	// A second more allows for a loaded 2-core machine, where the waves that
	// pile up behind the timeouts are answered late by the CPU alone (the
	// slowest once took 56 ms past the four timeouts).
	if bound := calm.slowest + 4*250*time.Millisecond + time.Second; during.slowest > bound {
		t.Errorf("the slowest answer during the stall took %v; want at most %v (the slowest before it, four Redis timeouts and a second)", during.slowest, bound)
	}
}
