//go:build bench

package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// cpuUse is seatd's CPU over one run, by stage (stageOf), from its CPU
// profile, and the requests it answered meanwhile.
type cpuUse struct {
	requests int           // answered in the profiled window, by seatd's metrics
	window   time.Duration // how long the profile ran
	stages   map[string]time.Duration
	total    time.Duration // every sample
	samples  int           // the profile's samples
	process  time.Duration // seatd's CPU time in the window by its own count (process_cpu_seconds_total)
}

// perRequest returns d in microseconds per request of the window.
func (c cpuUse) perRequest(d time.Duration) float64 {
	if c.requests == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(c.requests)
}

// profileChunk is the length of each CPU profile of a run whose end is
// not known before it comes (a storm): the profiler takes a duration, not a
// stop, so the run is profiled in back-to-back chunks of it, merged, and the
// window may outlast the run by up to a chunk.
const profileChunk = time.Second

// profileDuring runs fn, a seatload run, and profiles seatd's CPU over it.
// With fixed, the window opens at the first seat change seatd answers (the
// run's setup, such as reading the seat maps of every show, stays out) and
// lasts fixed (whole seconds: a steady or contend run's timed part less a
// second). Without, it is the whole run (a storm: its setup is reading a
// few seat maps and warming its connections, and its load is over within
// a second of the first answer, too soon to wait for), in chunks of
// profileChunk merged into one (the gaps between them are a request's round
// trip on loopback). It counts the requests seatd answered in the window
// (its request-duration histogram's count) but for health checks, which
// are the storms' warm-up, and the reads of /metrics. With -pprof, the merged profile is written
// there as <backend>-<name>.pb.gz.
func profileDuring(t *testing.T, s *seatd, name string, fixed time.Duration, fn func()) cpuUse {
	t.Helper()
	base, err := getMetrics(t.Context(), s.URL)
	if err != nil {
		t.Fatalf("seatd's metrics: %v", err)
	}
	done := make(chan struct{})
	var w struct {
		chunks        []*profile.Profile
		before, after metricsReading
		began, ended  time.Time
		err           error
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		ctx := t.Context()
		w.before, w.began = base, time.Now()
		for fixed > 0 {
			m, err := getMetrics(ctx, s.URL)
			if err != nil {
				w.err = err
				return
			}
			if m.writes > base.writes {
				w.before, w.began = m, time.Now()
				break
			}
			select {
			case <-done:
				w.err = fmt.Errorf("seatd answered no seat change during the run")
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		for {
			d := profileChunk
			if fixed > 0 {
				d = max(time.Second, fixed.Truncate(time.Second))
			}
			p, err := fetchProfile(ctx, s.ops, d)
			if err != nil {
				w.err = err
				return
			}
			w.chunks = append(w.chunks, p)
			if fixed > 0 || closed(done) {
				break
			}
		}
		w.ended = time.Now()
		w.after, w.err = getMetrics(ctx, s.URL)
	})
	fn()
	close(done)
	wg.Wait()
	if w.err != nil {
		t.Errorf("profile seatd during %s: %v", name, w.err)
		return cpuUse{}
	}
	merged, err := profile.Merge(w.chunks)
	if err != nil {
		t.Fatalf("merge the profiles of %s: %v", name, err)
	}
	if *profiles != "" {
		writeProfile(t, merged, filepath.Join(*profiles, s.b.key+"-"+name+".pb.gz"))
	}
	by, err := cpuByStage(merged)
	if err != nil {
		t.Fatalf("profile of %s: %v", name, err)
	}
	c := cpuUse{requests: int(w.after.served() - w.before.served()), window: w.ended.Sub(w.began), stages: by, samples: sampleCount(merged),
		process: time.Duration((w.after.cpuSeconds - w.before.cpuSeconds) * float64(time.Second))}
	for _, d := range by {
		c.total += d
	}
	return c
}

// sampleCount returns the samples of a CPU profile (its samples/count values).
func sampleCount(p *profile.Profile) int {
	n := int64(0)
	for i, st := range p.SampleType {
		if st.Type == "samples" {
			for _, s := range p.Sample {
				n += s.Value[i]
			}
		}
	}
	return int(n)
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// fetchProfile takes one CPU profile of d from the pprof handler at addr.
func fetchProfile(ctx context.Context, addr string, d time.Duration) (*profile.Profile, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return profile.Parse(resp.Body)
}

func writeProfile(t *testing.T, p *profile.Profile, path string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
}

// metricsReading is what the bench reads of seatd's /metrics.
type metricsReading struct {
	requests   float64 // seatd_http_request_duration_seconds_count, summed over its labels
	writes     float64 // the same, of the hold, book and release routes
	aside      float64 // the same, of GET /healthz and GET /metrics: the storms' warm-up, the bench's own reads
	cpuSeconds float64 // process_cpu_seconds_total
}

// served is the requests answered but for health checks and metrics.
func (m metricsReading) served() float64 { return m.requests - m.aside }

// getMetrics reads the /metrics of the seatd at base.
func getMetrics(ctx context.Context, base string) (metricsReading, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return metricsReading{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return metricsReading{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return metricsReading{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// writeRoutes are the label values of the seat-change routes.
var writeRoutes = []string{`route="POST /api/seats/hold-bulk"`, `route="POST /api/seats/book-bulk"`, `route="POST /api/seats/release-bulk"`}

// parseMetrics reads metricsReading's series from Prometheus's text format.
func parseMetrics(r io.Reader) (metricsReading, error) {
	var m metricsReading
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, _, _ := strings.Cut(line, " ")
		name, _, _ = strings.Cut(name, "{")
		if name != "seatd_http_request_duration_seconds_count" && name != "process_cpu_seconds_total" {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return m, fmt.Errorf("%q: %w", line, err)
		}
		switch {
		case name == "process_cpu_seconds_total":
			m.cpuSeconds = v
		default:
			m.requests += v
			if slices.ContainsFunc(writeRoutes, func(r string) bool { return strings.Contains(line, r) }) {
				m.writes += v
			}
			if strings.Contains(line, `route="GET /healthz"`) || strings.Contains(line, `route="GET /metrics"`) {
				m.aside += v
			}
		}
	}
	return m, sc.Err()
}

// rssMiB returns the resident set of process pid (VmRSS), in MiB.
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", rest, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}
