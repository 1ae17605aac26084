package k6

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// kind is a k6 metric type; it decides which aggregations a threshold may use.
type kind int

const (
	counter kind = iota + 1
	rate
	trend
)

func (k kind) String() string {
	switch k {
	case counter:
		return "counter"
	case rate:
		return "rate"
	case trend:
		return "trend"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// registry holds every sample the VUs emit, aggregated per metric and per set
// of tags, so that a sub-metric (a metric filtered by tags) can be summed from
// the sets that carry its tags. All VUs share it.
type registry struct {
	mu      sync.Mutex
	metrics map[string]*metric
}

// metric is one k6 metric: its kind and its samples, grouped by tag set.
type metric struct {
	name   string
	kind   kind
	series map[string]*series // by tagKey
}

// series aggregates the samples of a metric that carry the same tags.
type series struct {
	tags    map[string]string
	count   int       // samples
	sum     float64   // of their values
	nonzero int       // samples that were not 0 (a rate's trues)
	values  []float64 // a trend's samples
}

// builtin are the metrics k6 defines itself, of those the shim emits.
var builtin = map[string]kind{
	"checks":            rate,
	"http_req_failed":   rate,
	"http_reqs":         counter,
	"http_req_duration": trend,
	"iterations":        counter,
}

func newRegistry() *registry {
	r := &registry{metrics: map[string]*metric{}}
	for name, k := range builtin {
		r.metrics[name] = &metric{name: name, kind: k, series: map[string]*series{}}
	}
	return r
}

// metricName is what k6 accepts as the name of a custom metric.
var metricName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// define registers a custom metric, as `new Counter(name)` does in each VU:
// the same name again is the same metric, unless its kind differs.
func (r *registry) define(name string, k kind) error {
	if !metricName.MatchString(name) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.metrics[name]; ok {
		if m.kind != k {
			return fmt.Errorf("metric %q is a %s, not a %s", name, m.kind, k)
		}
		return nil
	}
	r.metrics[name] = &metric{name: name, kind: k, series: map[string]*series{}}
	return nil
}

// add records one sample of a defined metric.
func (r *registry) add(name string, tags map[string]string, v float64) {
	key := tagKey(tags)
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.metrics[name]
	if m == nil {
		panic("k6 shim: sample of undefined metric " + name)
	}
	s := m.series[key]
	if s == nil {
		s = &series{tags: maps.Clone(tags)}
		m.series[key] = s
	}
	s.count++
	s.sum += v
	if v != 0 {
		s.nonzero++
	}
	if m.kind == trend {
		s.values = append(s.values, v)
	}
}

// tagKey is a canonical form of a tag set.
func tagKey(tags map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		fmt.Fprintf(&b, "%q=%q,", k, tags[k])
	}
	return b.String()
}

// aggregate is what the series of a metric matching filter add up to.
type aggregate struct {
	kind    kind
	count   int
	sum     float64
	nonzero int
	values  []float64
}

// get sums the series of metric name whose tags include every tag of filter.
func (r *registry) get(name string, filter map[string]string) (aggregate, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.metrics[name]
	if m == nil {
		return aggregate{}, false
	}
	a := aggregate{kind: m.kind}
	for _, s := range m.series {
		if !matches(s.tags, filter) {
			continue
		}
		a.count += s.count
		a.sum += s.sum
		a.nonzero += s.nonzero
		a.values = append(a.values, s.values...)
	}
	return a, true
}

func matches(tags, filter map[string]string) bool {
	for k, v := range filter {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// by returns, for metric name, the sum of the values of its samples per
// combination of the values of tags, joined by spaces (a missing tag is "-").
func (r *registry) by(name string, tags ...string) map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]float64{}
	if m := r.metrics[name]; m != nil {
		for _, s := range m.series {
			key := make([]string, len(tags))
			for i, t := range tags {
				key[i] = cmp.Or(s.tags[t], "-")
			}
			out[strings.Join(key, " ")] += s.sum
		}
	}
	return out
}

// threshold is one parsed entry of options.thresholds: an aggregation of a
// metric, or of its sub-metric, compared with a number.
type threshold struct {
	key    string            // as written in options: metric{tag:value,...}
	expr   string            // as written: rate==1
	metric string            // the metric's name
	filter map[string]string // the sub-metric's tags; nil for the whole metric
	agg    string            // count or rate
	op     string
	value  float64
}

var (
	thresholdKey  = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\{([^{}]*)\})?\s*$`)
	thresholdExpr = regexp.MustCompile(`^\s*(count|rate)\s*(<=|>=|===|==|!=|<|>)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$`)
)

// parseThreshold parses the forms of threshold the shim evaluates as k6 does:
// count (of a counter) or rate (of a rate) compared with a number, on a metric
// or on a sub-metric selected by tags. Anything else (percentiles, a rate of a
// counter, abortOnFail objects) is an error, not a silent pass.
func parseThreshold(key, expr string) (threshold, error) {
	th := threshold{key: key, expr: expr}
	k := thresholdKey.FindStringSubmatch(key)
	if k == nil {
		return th, fmt.Errorf("threshold metric %q: not a form the shim understands", key)
	}
	th.metric = k[1]
	if k[2] != "" || strings.Contains(key, "{") {
		th.filter = map[string]string{}
		for pair := range strings.SplitSeq(k[2], ",") {
			name, value, ok := strings.Cut(pair, ":")
			name, value = strings.TrimSpace(name), unquote(strings.TrimSpace(value))
			if !ok || name == "" || value == "" {
				return th, fmt.Errorf("threshold metric %q: tag %q is not name:value", key, pair)
			}
			th.filter[name] = value
		}
	}
	e := thresholdExpr.FindStringSubmatch(expr)
	if e == nil {
		return th, fmt.Errorf("threshold %q on %s: not a form the shim understands", expr, key)
	}
	th.agg, th.op = e[1], e[2]
	v, err := strconv.ParseFloat(e[3], 64)
	if err != nil {
		return th, fmt.Errorf("threshold %q on %s: %w", expr, key, err)
	}
	th.value = v
	return th, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// evaluate computes the threshold's aggregation over everything recorded, as
// k6 does at the end of a run (an empty rate is 0, an empty count 0), and
// whether it holds.
func (th threshold) evaluate(r *registry) (got float64, ok bool, err error) {
	a, found := r.get(th.metric, th.filter)
	if !found {
		return 0, false, fmt.Errorf("threshold on %s: no such metric", th.key)
	}
	switch {
	case th.agg == "count" && a.kind == counter:
		got = a.sum
	case th.agg == "rate" && a.kind == rate:
		if a.count > 0 {
			got = float64(a.nonzero) / float64(a.count)
		}
	default:
		return 0, false, fmt.Errorf("threshold %q on %s: the shim has no %s of a %s", th.expr, th.key, th.agg, a.kind)
	}
	return got, compare(got, th.op, th.value), nil
}

func compare(a float64, op string, b float64) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "==", "===":
		return a == b
	case "!=":
		return a != b
	}
	panic("k6 shim: operator " + op)
}

// percentile returns the p-th percentile (0–100) of values, by nearest rank.
func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(values))
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func TestThresholds(t *testing.T) {
	r := newRegistry()
	if err := r.define("seat_sales", counter); err != nil {
		t.Fatal(err)
	}
	if err := r.define("seat_sales", rate); err == nil {
		t.Error("define seat_sales as a rate after a counter: no error, want one")
	}
	for _, seat := range []string{"0", "1", "1", "2"} {
		r.add("seat_sales", map[string]string{"seat": seat, "scenario": "storm"}, 1)
	}
	r.add("checks", map[string]string{"check": "a"}, 1)
	r.add("checks", map[string]string{"check": "b"}, 1)
	r.add("http_req_failed", map[string]string{"name": "hold"}, 0)
	r.add("http_req_failed", map[string]string{"name": "book"}, 1)

	tests := []struct {
		key, expr string
		got       float64
		ok        bool
		err       string
	}{
		{key: "checks", expr: "rate==1", got: 1, ok: true},
		{key: "http_req_failed", expr: "rate==0", got: 0.5, ok: false},
		{key: "http_req_failed{name:hold}", expr: "rate==0", got: 0, ok: true},
		{key: "http_req_failed{ name : 'book' }", expr: "rate > 0.5", got: 1, ok: true},
		{key: "seat_sales", expr: "count<=4", got: 4, ok: true},
		{key: "seat_sales", expr: "count<=3", got: 4, ok: false},
		{key: "seat_sales{seat:1}", expr: "count<=1", got: 2, ok: false},
		{key: "seat_sales{seat:2}", expr: "count<=1", got: 1, ok: true},
		{key: "seat_sales{seat:9}", expr: "count<=1", got: 0, ok: true},
		{key: "seat_sales{seat:1,scenario:storm}", expr: "count===2", got: 2, ok: true},
		{key: "holds_refused", expr: "count<1", err: "no such metric"},
		{key: "seat_sales", expr: "rate<1", err: "no rate of a counter"},
		{key: "http_req_duration", expr: "p(95)<500", err: "not a form"},
		{key: "http_req_duration", expr: "count<5", err: "no count of a trend"},
		{key: "seat_sales{seat}", expr: "count<=1", err: "not name:value"},
		{key: "seat_sales{}", expr: "count<=1", err: "not name:value"},
		{key: "checks", expr: "rate==1 && rate>0", err: "not a form"},
	}
	for _, tt := range tests {
		t.Run(tt.key+" "+tt.expr, func(t *testing.T) {
			th, err := parseThreshold(tt.key, tt.expr)
			var got float64
			var ok bool
			if err == nil {
				got, ok, err = th.evaluate(r)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.got || ok != tt.ok {
				t.Errorf("got %g (ok %v), want %g (ok %v)", got, ok, tt.got, tt.ok)
			}
		})
	}
}
