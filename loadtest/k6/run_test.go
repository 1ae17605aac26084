package k6

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"
	"golang.org/x/sync/errgroup"
)

const (
	// setupTimeout and teardownTimeout are k6's defaults.
	setupTimeout    = 60 * time.Second
	teardownTimeout = 60 * time.Second
	// k6's defaults of a scenario.
	defaultMaxDuration  = 10 * time.Minute
	defaultGracefulStop = 30 * time.Second
	// consoleLines is how many lines of the script's console a run keeps.
	consoleLines = 50
)

// scenario is one scenario of options.scenarios; the shim runs the
// per-vu-iterations executor only.
type scenario struct {
	name         string
	exec         string
	vus          int
	iterations   int
	maxDuration  time.Duration
	gracefulStop time.Duration
}

// options is what the shim reads of the script's options.
type options struct {
	scenarios  []scenario
	thresholds []threshold
}

// result is what a run leaves to judge.
type result struct {
	options    options
	metrics    *registry
	setupData  string // setup's return value, as JSON; "" for undefined
	errs       []error
	thresholds []thresholdResult
	summary    map[string]string // handleSummary's outputs, by name
	console    *console
	timings    map[string]time.Duration // by phase: init, setup, scenarios, teardown
}

// thresholdResult is a threshold and what it came to.
type thresholdResult struct {
	threshold
	got float64
	ok  bool
	err error // the threshold could not be evaluated
}

// runScript runs a k6 script as `k6 run` would, with env as its __ENV: the
// init code once per VU, setup once, each scenario's VUs started together
// each running its iterations, teardown once with setup's data, then
// handleSummary if there is one, and the thresholds. An error is returned only
// when the run could not start (translation, options, init); the rest of what
// went wrong is in result.errs.
func runScript(ctx context.Context, name, src string, env map[string]string) (*result, error) {
	tr, err := translate(src)
	if err != nil {
		return nil, err
	}
	// Strict, as an ES module is.
	prog, err := goja.Compile(name, tr.src, true)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", name, err)
	}
	sh := &shared{prog: prog, env: env, metrics: newRegistry(), console: &console{max: consoleLines}}
	res := &result{metrics: sh.metrics, console: sh.console, timings: map[string]time.Duration{}}
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.errs = append(res.errs, err)
	}

	// The options come from an init of their own, as in k6.
	first, err := newVU(ctx, sh, 0, map[string]string{})
	if err != nil {
		return nil, err
	}
	if res.options, err = parseOptions(first.exports["options"]); err != nil {
		return nil, err
	}
	for _, s := range res.options.scenarios {
		if _, ok := goja.AssertFunction(first.exports[s.exec]); !ok {
			return nil, fmt.Errorf("scenario %s: the script exports no function %s", s.name, s.exec)
		}
	}

	start := time.Now()
	type member struct {
		vu *vu
		sc scenario
	}
	var members []member
	for _, s := range res.options.scenarios {
		for range s.vus {
			members = append(members, member{sc: s})
		}
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range members {
		g.Go(func() error {
			v, err := newVU(ctx, sh, i+1, map[string]string{"scenario": members[i].sc.name})
			members[i].vu = v
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	defer func() {
		for _, m := range members {
			m.vu.client.close()
		}
	}()
	res.timings["init"] = time.Since(start)

	start = time.Now()
	if _, ok := first.exports["setup"]; ok {
		v, err := newVU(ctx, sh, 0, map[string]string{"group": "::setup"})
		if err != nil {
			return nil, err
		}
		sctx, cancel := context.WithTimeoutCause(ctx, setupTimeout, errors.New("setup timed out"))
		data, err := v.call(sctx, "setup")
		cancel()
		v.client.close()
		if err == nil {
			res.setupData, err = v.stringify(data)
		}
		if err != nil {
			// k6 stops the run when setup throws.
			fail(fmt.Errorf("setup: %w", err))
			return res, nil
		}
	}
	res.timings["setup"] = time.Since(start)

	// Every VU gets its own copy of the data, then waits at the barrier, so
	// that all start their first iteration together, as in a storm.
	var ready, done sync.WaitGroup
	barrier := make(chan struct{})
	var launched time.Time
	for _, m := range members {
		ready.Add(1)
		done.Go(func() {
			data, err := m.vu.parseJSON(res.setupData)
			ready.Done()
			<-barrier
			if err != nil {
				fail(fmt.Errorf("VU %d: setup's data: %w", m.vu.id, err))
				return
			}
			end := launched.Add(m.sc.maxDuration)
			hard, cancel := context.WithDeadlineCause(ctx, end.Add(m.sc.gracefulStop),
				fmt.Errorf("scenario %s: past its maxDuration %v and gracefulStop %v", m.sc.name, m.sc.maxDuration, m.sc.gracefulStop))
			defer cancel()
			for i := range m.sc.iterations {
				if time.Now().After(end) {
					fail(fmt.Errorf("VU %d: scenario %s: %d of its %d iterations did not start within maxDuration %v",
						m.vu.id, m.sc.name, m.sc.iterations-i, m.sc.iterations, m.sc.maxDuration))
					return
				}
				must(m.vu.rt.Set("__ITER", i))
				_, err := m.vu.call(hard, m.sc.exec, data)
				if err == nil && hard.Err() != nil {
					// A sleep or request cut short by the end, whose
					// iteration returned before the interrupt took.
					err = context.Cause(hard)
				}
				if err != nil {
					fail(fmt.Errorf("VU %d iteration %d: %w", m.vu.id, i, err))
					if hard.Err() != nil {
						return
					}
					continue
				}
				sh.metrics.add("iterations", m.vu.tags, 1)
			}
		})
	}
	ready.Wait()
	start = time.Now()
	launched = start
	close(barrier)
	done.Wait()
	res.timings["scenarios"] = time.Since(start)

	start = time.Now()
	if _, ok := first.exports["teardown"]; ok {
		v, err := newVU(ctx, sh, 0, map[string]string{"group": "::teardown"})
		if err == nil {
			var data goja.Value
			if data, err = v.parseJSON(res.setupData); err == nil {
				tctx, cancel := context.WithTimeoutCause(ctx, teardownTimeout, errors.New("teardown timed out"))
				_, err = v.call(tctx, "teardown", data)
				cancel()
			}
			v.client.close()
		}
		if err != nil {
			fail(fmt.Errorf("teardown: %w", err))
		}
	}
	res.timings["teardown"] = time.Since(start)

	for _, th := range res.options.thresholds {
		got, ok, err := th.evaluate(sh.metrics)
		res.thresholds = append(res.thresholds, thresholdResult{threshold: th, got: got, ok: ok, err: err})
	}
	if _, ok := first.exports["handleSummary"]; ok {
		if err := res.handleSummary(ctx, sh); err != nil {
			fail(fmt.Errorf("handleSummary: %w", err))
		}
	}
	return res, nil
}

// handleSummary calls the script's handleSummary with a summary of the run in
// k6's shape (metrics with their values and thresholds, setup_data) and keeps
// the strings it returns, by output name, instead of writing files.
func (res *result) handleSummary(ctx context.Context, sh *shared) error {
	metrics := map[string]any{}
	for name, m := range sh.metrics.metrics {
		a, _ := sh.metrics.get(name, nil)
		values := map[string]any{}
		switch m.kind {
		case counter:
			values["count"] = a.sum
		case rate:
			values["passes"], values["fails"] = a.nonzero, a.count-a.nonzero
			values["rate"] = 0.0
			if a.count > 0 {
				values["rate"] = float64(a.nonzero) / float64(a.count)
			}
		case trend:
			if len(a.values) > 0 {
				values["min"], values["max"] = slices.Min(a.values), slices.Max(a.values)
				values["avg"] = a.sum / float64(a.count)
				values["med"] = percentile(a.values, 50)
				values["p(90)"], values["p(95)"] = percentile(a.values, 90), percentile(a.values, 95)
			}
		}
		metrics[name] = map[string]any{"type": m.kind.String(), "values": values}
	}
	for _, th := range res.thresholds {
		if th.err != nil {
			continue
		}
		entry, ok := metrics[th.key].(map[string]any)
		if !ok {
			entry = map[string]any{"type": sh.metrics.metrics[th.metric].kind.String(), "values": map[string]any{th.agg: th.got}}
			metrics[th.key] = entry
		}
		ths, _ := entry["thresholds"].(map[string]any)
		if ths == nil {
			ths = map[string]any{}
			entry["thresholds"] = ths
		}
		ths[th.expr] = map[string]bool{"ok": th.ok}
	}
	var setup any
	if res.setupData != "" {
		setup = json.RawMessage(res.setupData)
	}
	b, err := json.Marshal(map[string]any{"metrics": metrics, "setup_data": setup, "state": map[string]any{
		"testRunDurationMs": float64(res.timings["scenarios"]) / float64(time.Millisecond),
	}})
	if err != nil {
		return err
	}
	v, err := newVU(ctx, sh, 0, map[string]string{})
	if err != nil {
		return err
	}
	data, err := v.parseJSON(string(b))
	if err != nil {
		return err
	}
	out, err := v.call(ctx, "handleSummary", data)
	if err != nil {
		return err
	}
	res.summary = map[string]string{}
	if obj, ok := out.(*goja.Object); ok {
		for _, k := range obj.Keys() {
			res.summary[k] = obj.Get(k).String()
		}
	}
	return nil
}

func TestRunScript(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		errs    []string // substrings of the run's errors, one each
		summary string   // what handleSummary gives stdout, if it is exported
	}{
		{
			name: "setup's data as JSON, per-VU iterations, tagged counters",
			src: `import { check } from 'k6';
import { Counter } from 'k6/metrics';
const iters = new Counter('iters');
let mine = 0;
export const options = {
  scenarios: { a: { executor: 'per-vu-iterations', vus: 3, iterations: 2, maxDuration: '5s' } },
  thresholds: { iters: ['count==6'], 'iters{vu:2}': ['count==2'], checks: ['rate==1'], iterations: ['count==6'] },
};
export function setup() { return { n: 41, when: new Date(0), f: () => 1 }; }
export default function (data) {
  check(data, {
    'a JSON copy': (d) => d.n === 41 && typeof d.when === 'string' && !('f' in d),
    '__ITER counts': () => __ITER === mine++,
    '__VU is 1..3': () => __VU >= 1 && __VU <= 3,
  });
  iters.add(1, { vu: String(__VU) });
}
export function teardown(data) { if (data.n !== 41 || __VU !== 0) { throw new Error('teardown got ' + JSON.stringify(data)); } }
export function handleSummary(data) {
  const m = data.metrics;
  return { stdout: [m.iters.values.count, m['iters{vu:2}'].thresholds['count==2'].ok, m.checks.values.passes, data.setup_data.n].join(' ') };
}
`,
			summary: "6 true 18 41",
		},
		{
			name: "an endless iteration is interrupted after maxDuration and gracefulStop",
			src: `export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 2, maxDuration: '100ms', gracefulStop: '100ms' } } };
export default function () { for (;;) {} }
`,
			errs: []string{"VU 1 iteration 0: scenario s: past its maxDuration", "VU 2 iteration 0: scenario s: past its maxDuration"},
		},
		{
			name: "a sleep past the end is cut short and interrupted",
			src: `import { sleep } from 'k6';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 3, maxDuration: '50ms', gracefulStop: '50ms' } } };
export default function () { sleep(30); }
`,
			errs: []string{"VU 1 iteration 0: scenario s: past its maxDuration"},
		},
		{
			name: "a throwing teardown",
			src:  "export default function () {}\nexport function teardown() { throw new Error('bad'); }\n",
			errs: []string{"teardown: Error: bad"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res, err := runScript(t.Context(), "test.js", tt.src, nil)
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v, want the run bounded by its maxDuration", time.Since(start))
			}
			var got []string
			for _, err := range res.errs {
				got = append(got, err.Error())
			}
			if len(got) != len(tt.errs) {
				t.Fatalf("errors %q, want %d: %q", got, len(tt.errs), tt.errs)
			}
			slices.Sort(got)
			for i, want := range tt.errs {
				if !strings.Contains(got[i], want) {
					t.Errorf("error %q, want one containing %q", got[i], want)
				}
			}
			if got := res.summary["stdout"]; got != tt.summary {
				t.Errorf("handleSummary's stdout %q, want %q", got, tt.summary)
			}
			for _, th := range res.thresholds {
				if th.err != nil || !th.ok {
					t.Errorf("threshold %s %s: got %g (%v), want it to hold", th.key, th.expr, th.got, th.err)
				}
			}
		})
	}
}
