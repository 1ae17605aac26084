package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is a progress bar on stderr, or nothing: a nil *progress ignores every
// call, so that code can report progress without asking whether anyone watches.
type progress struct {
	bar *progressbar.ProgressBar
}

// isTerminal reports whether w is a terminal: a bar redrawn with carriage returns
// is noise in a log file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress returns a bar counting to max, or nil when want is false or stderr
// is not a terminal. count shows "n/max" beside it.
func newProgress(stderr io.Writer, want bool, max int64, description string, count bool) *progress {
	if !want || !isTerminal(stderr) {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(description),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionFullWidth(),
	}
	if count {
		opts = append(opts, progressbar.OptionShowCount())
	}
	return &progress{bar: progressbar.NewOptions64(max, opts...)}
}

func (p *progress) add(n int) {
	if p != nil {
		p.bar.Add(n)
	}
}

func (p *progress) set(n int64, description string) {
	if p != nil {
		p.bar.Describe(description)
		p.bar.Set64(n)
	}
}

func (p *progress) finish() {
	if p != nil {
		p.bar.Finish()
	}
}

// timedProgress shows how much of a timed run has passed and how many requests
// it made. stop ends it (and waits for its goroutine).
func timedProgress(ctx context.Context, stderr io.Writer, want bool, d time.Duration, description string, requests *atomic.Int64) (stop func()) {
	// Counted in milliseconds, so that the bar moves smoothly; the count beside
	// it is the requests made, in the description.
	p := newProgress(stderr, want, d.Milliseconds(), description, false)
	if p == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				p.set(min(time.Since(start), d).Milliseconds(), fmt.Sprintf("%s: %d requests", description, requests.Load()))
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
		p.finish()
	}
}

// longRun is how long a run must be to deserve a progress bar.
const longRun = 3 * time.Second
