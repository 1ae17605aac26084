//go:build bench

package loadtest

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// memoryResult is seatd's RSS over a long steady run.
type memoryResult struct {
	every   time.Duration
	rssMiB  []float64 // one sample every every, from the run's start
	steady  summary
	seconds float64 // the run's -duration
	// shows is the shows made for the run, of showSeats seats each, in
	// created seconds.
	shows, showSeats int
	created          float64
}

// memoryShows is how many shows the memory run's -memory-seats are laid out
// in: seat maps of a few thousand seats, like the demo shows' 120 and unlike a
// stadium's, whose one seat map, read as steady starts, is a transient of
// some 200 MiB that the Go runtime gives back to the system tens of seconds
// later (a 200 000-seat show's RSS fell by a fifth halfway through the run).
const memoryShows = 100

// memoryWarmUp is the steady run on every show, the new ones among them,
// before the memory run. Without it seatd's RSS grew by 12 % from the 10 s
// sample on (2026-12-04 19:44) in the first run on the new shows' 200 000
// seats, which seatd's seat cache, among others, had not seen yet.
const memoryWarmUp = 5 * time.Second

// measureMemory runs steady for -memory and samples seatd's VmRSS every
// -memory-every meanwhile, from the moment seatload starts: -memory/-memory-every
// + 1 samples (13 for a minute every 5 s). The storms and steady runs before
// it are its warm-up. If seatload can, memoryShows shows of -memory-seats seats
// between them are made for it first: a minute of steady books more seats than
// the runs before it leave free of the demo shows, and more demo shows would
// slow every steady run before it (pgDemoShows). It runs on every show.
func measureMemory(t *testing.T, seatload string, s *seatd, commands map[string]bool) *memoryResult {
	m := &memoryResult{every: *memoryEvery, seconds: memoryD.Seconds()}
	if commands["create-show"] {
		m.showSeats = max(1, *memorySeats/memoryShows)
		progress("%s: memory: create-show, %d shows of %d seats", s.b.name, memoryShows, m.showSeats)
		start := time.Now()
		for range memoryShows {
			show := runJSON[createShowResult](t, seatload, signed("create-show", "-json", "-url", s.URL,
				"-seats", fmt.Sprint(m.showSeats), "-name", "seatload memory")...)
			if show.ShowID == "" {
				t.Errorf("create-show gave no show id")
				return m
			}
			m.shows++
		}
		m.created = time.Since(start).Seconds()
		// The new shows' warm-up, as the runs before were the demo shows':
		// seatd learns their seats (its seat cache) and serves changes on
		// them before the RSS is sampled.
		progress("%s: memory: warm-up, steady for %s", s.b.name, memoryWarmUp)
		runJSON[summary](t, seatload, signed("steady", "-json", "-url", s.URL, "-c", fmt.Sprint(steadyC64), "-duration", memoryWarmUp.String())...)
	}
	args := signed("steady", "-json", "-url", s.URL, "-c", fmt.Sprint(steadyC64), "-duration", memoryD.String())
	n := int(*memoryD / *memoryEvery)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var sampleErr error
	wg.Go(func() {
		tick := time.NewTicker(*memoryEvery)
		defer tick.Stop()
		for i := 0; ; i++ {
			rss, err := rssMiB(s.Pid)
			if err != nil {
				sampleErr = err
				return
			}
			m.rssMiB = append(m.rssMiB, rss)
			if i == n {
				return
			}
			select {
			case <-tick.C:
			case <-done:
				return
			}
		}
	})
	m.steady = runJSON[summary](t, seatload, args...)
	close(done)
	wg.Wait()
	if sampleErr != nil {
		t.Errorf("seatd's RSS: %v", sampleErr)
	}
	return m
}

// growth returns the RSS's growth from the first sample to the last, and
// the largest distance of a sample from flatAfter on from the sample at
// flatAfter, both as fractions.
func (m *memoryResult) growth() (total, fromSettled float64, settledAt int) {
	if len(m.rssMiB) < 2 {
		return 0, 0, 0
	}
	first, last := m.rssMiB[0], m.rssMiB[len(m.rssMiB)-1]
	settledAt = min(int(flatAfter/m.every), len(m.rssMiB)-1)
	base := m.rssMiB[settledAt]
	for _, v := range m.rssMiB[settledAt:] {
		fromSettled = max(fromSettled, abs(v-base)/base)
	}
	return (last - first) / first, fromSettled, settledAt
}

// flatAfter and flatWithin say when the RSS counts as flat: within 10 %
// of its value 10 s into the run, from then on.
const (
	flatAfter  = 10 * time.Second
	flatWithin = 0.10
)

func abs(f float64) float64 { return max(f, -f) }

// contendRun is seatload contend on the main backend.
type contendRun struct {
	run
	xacts xactCount // PostgreSQL transactions per refusal
	// helloBefore and helloAfter are the hello-world POST at contend's
	// concurrency, measured just before the run and just after it.
	helloBefore, helloAfter loop
}

// hello is the hello-world rate contend is read against: the mean of the
// measurements on either side of it, or 0 without them.
func (c *contendRun) hello() float64 {
	if c.helloBefore.PerSecond <= 0 || c.helloAfter.PerSecond <= 0 {
		return 0
	}
	return (c.helloBefore.PerSecond + c.helloAfter.PerSecond) / 2
}

// contendWorkers is contend's -c, and the concurrency of the hello-world
// rate it is read against.
const contendWorkers = 256

// measureContend runs seatload contend, if seatload has it, with the
// database's transactions counted around it.
func measureContend(t *testing.T, seatload string, s *seatd, commands map[string]bool) *contendRun {
	if !commands["contend"] {
		progress("%s: contend skipped: this seatload has no contend command", s.b.name)
		return nil
	}
	progress("%s: counting the database's transactions (an 11 s wait)", s.b.name)
	before := xacts(t, s.db)
	// The hello-world rate on either side of the run, seatd idle: this
	// machine's speed drifts by a third within minutes, so a rate measured at
	// the start of the bench would be read against another machine.
	progress("calibrate at %d connections: the hello-world POST rate, before contend", contendWorkers)
	helloBefore := calibrate(t, seatload, "", contendWorkers, 0).Hello
	progress("%s: contend, %d workers, %s", s.b.name, contendWorkers, *contendD)
	c := &contendRun{run: s.profiled(t, seatload, "contend", timedPart(*contendD),
		signed("contend", "-json", "-url", s.URL, "-c", fmt.Sprint(contendWorkers), "-duration", contendD.String())...),
		helloBefore: helloBefore}
	progress("calibrate at %d connections: the hello-world POST rate, after contend", contendWorkers)
	c.helloAfter = calibrate(t, seatload, "", contendWorkers, 0).Hello
	progress("%s: counting the database's transactions (an 11 s wait)", s.b.name)
	after := xacts(t, s.db)
	if c.Contend != nil && c.Contend.Refusals > 0 {
		n := float64(c.Contend.Refusals)
		c.xacts = xactCount{all: float64(after.all-before.all) / n, writes: float64(after.writes-before.writes) / n}
	}
	return c
}

// stadiumRun is the runs on one show of -stadium-seats seats.
type stadiumRun struct {
	show          createShowResult
	steady, storm run
}

// measureStadium creates the stadium show, if seatload can, then runs
// steady on it alone and a storm of stadiumVUs buyers on stadiumStormSeats
// of its seats.
func measureStadium(t *testing.T, seatload string, s *seatd, commands map[string]bool) *stadiumRun {
	if !commands["create-show"] {
		progress("%s: stadium skipped: this seatload has no create-show command", s.b.name)
		return nil
	}
	progress("%s: stadium: create-show, %d seats", s.b.name, *stadiumSeats)
	st := &stadiumRun{show: runJSON[createShowResult](t, seatload, signed("create-show", "-json", "-url", s.URL, "-seats", fmt.Sprint(*stadiumSeats))...)}
	if st.show.ShowID == "" {
		t.Errorf("create-show gave no show id")
		return st
	}
	progress("%s: stadium: steady, %d workers, %s", s.b.name, steadyC64, *steadyD)
	st.steady = s.profiled(t, seatload, "stadium-steady", timedPart(*steadyD),
		signed("steady", "-json", "-url", s.URL, "-show", st.show.ShowID, "-c", fmt.Sprint(steadyC64), "-duration", steadyD.String())...)
	progress("%s: stadium: storm, %d buyers on %d seats", s.b.name, stadiumVUs, stadiumStormSeats)
	st.storm = s.profiled(t, seatload, "stadium-storm", 0,
		signed("storm", "-json", "-url", s.URL, "-show", st.show.ShowID, "-vus", fmt.Sprint(stadiumVUs), "-seats", fmt.Sprint(stadiumStormSeats), "-rounds", "1")...)
	return st
}
