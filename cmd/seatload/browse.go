package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// browseConfig is the flags of browse.
type browseConfig struct {
	common
	workers  int
	duration time.Duration
}

// showListShare is how often a browser reads the show list instead of a seat map:
// people open a listing once and then look at seat maps.
const showListShare = 0.05

func parseBrowse(args []string, stderr io.Writer) (browseConfig, error) {
	var cfg browseConfig
	fs := newFlagSet("browse", "Workers read seat maps of random shows (and now and then the show list) for -duration.", stderr)
	cfg.register(fs)
	fs.IntVar(&cfg.workers, "c", 64, "concurrent workers (and connections)")
	fs.DurationVar(&cfg.duration, "duration", 15*time.Second, "how long to run")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.workers < 1:
		return cfg, fmt.Errorf("browse: -c must be at least 1, got %d", cfg.workers)
	case cfg.duration <= 0:
		return cfg, fmt.Errorf("browse: -duration must be positive, got %s", cfg.duration)
	}
	return cfg, nil
}

// browser is one browse worker.
type browser struct {
	rec      *recorder
	maps     int      // seat maps read and checked
	problems []string // malformed answers, the first maxProblems of them
	count    int      // malformed answers in all
}

// runBrowse measures reads. Its verification is that every seat map read was
// well-formed: the right show, every seat once, each in a known status.
func runBrowse(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseBrowse(args, stderr)
	if err != nil {
		return err
	}
	if err := ensureConns(cfg.workers); err != nil {
		return fmt.Errorf("browse: %w", err)
	}
	cl := newClient(cfg.url, cfg.workers)
	defer cl.close()
	shows, err := cl.shows(ctx)
	if err != nil {
		return fmt.Errorf("browse: %w", err)
	}
	if len(shows) == 0 {
		return fmt.Errorf("browse: %s has no shows", cfg.url)
	}

	load, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	requests := &atomic.Int64{}
	stopBar := timedProgress(ctx, stderr, !cfg.json && cfg.duration >= longRun, cfg.duration, "browse", requests)
	browsers := make([]*browser, cfg.workers)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range browsers {
		b := &browser{rec: &recorder{requests: requests}}
		browsers[i] = b
		wg.Go(func() {
			for load.Err() == nil {
				b.read(ctx, cl, shows)
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	stopBar()

	recs := make([]*recorder, len(browsers))
	var v verification
	for i, b := range browsers {
		recs[i] = b.rec
		v.SeatMapsChecked += b.maps
		for _, p := range b.problems {
			v.problem("%s", p)
		}
		v.ProblemCount += b.count - len(b.problems)
	}
	v.OK = v.ProblemCount == 0
	if ctx.Err() != nil {
		v = verification{Skipped: "the run was interrupted"}
	}
	sum := newSummary("browse", cfg.url, cfg.workers, wall, recs)
	sum.Verification = v
	return emit(stdout, sum, cfg.json)
}

// read makes one read: mostly a random show's seat map, now and then the list.
func (b *browser) read(ctx context.Context, cl *client, shows []show) {
	if rand.Float64() < showListShare {
		var list []show
		if a := cl.get(ctx, b.rec, routeShows, pathShows, &list); !a.ok() && !a.unknown() {
			b.rec.fail(failUnexpected, routeShows, a.String())
		}
		return
	}
	sh := shows[rand.IntN(len(shows))]
	var m seatMap
	a := cl.get(ctx, b.rec, routeSeatMap, seatMapPath(sh.ID), &m)
	switch {
	case a.ok():
		b.maps++
		ps := checkSeatMap(m, sh)
		b.count += len(ps)
		b.problems = append(b.problems, ps[:min(len(ps), maxProblems-len(b.problems))]...)
	case !a.unknown():
		b.rec.fail(failUnexpected, routeSeatMap, a.String())
	}
}
