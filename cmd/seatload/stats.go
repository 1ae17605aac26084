package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// sample is one request: its route, status (0 when no answer came) and latency.
type sample struct {
	route   string
	status  int
	latency time.Duration
}

// failureKind sorts failures by what they say about the server.
type failureKind int

const (
	failTransport  failureKind = iota // no answer: the outcome is unknown
	failServer                        // a 5xx
	failUnexpected                    // an answer the scenario cannot explain
)

// maxFailureMessages caps the distinct messages kept: the first few say what broke.
const maxFailureMessages = 10

// failures counts what went wrong and keeps the first messages.
type failures struct {
	Transport    int `json:"transport"`
	ServerErrors int `json:"serverErrors"`
	Unexpected   int `json:"unexpected"`
	// ServerProblems counts the server errors by problem type (its slug:
	// "overloaded", "timeout", "internal", …), which say what to change.
	ServerProblems map[string]int `json:"serverProblems,omitempty"`
	Messages       []string       `json:"messages,omitempty"`
}

func (f failures) total() int { return f.Transport + f.ServerErrors + f.Unexpected }

func (f *failures) merge(o failures) {
	f.Transport += o.Transport
	f.ServerErrors += o.ServerErrors
	f.Unexpected += o.Unexpected
	for slug, n := range o.ServerProblems {
		if f.ServerProblems == nil {
			f.ServerProblems = map[string]int{}
		}
		f.ServerProblems[slug] += n
	}
	for _, m := range o.Messages {
		f.note(m)
	}
}

// recorder collects the samples and failures of one virtual user. Each user has
// its own, so that recording takes no lock; they are merged after the run. A nil
// recorder records nothing (setup and verification requests).
type recorder struct {
	samples  []sample
	failures failures
	// requests, when set, counts requests across all users for the progress bar.
	requests *atomic.Int64
}

func (r *recorder) add(route string, status int, latency time.Duration) {
	if r == nil {
		return
	}
	r.samples = append(r.samples, sample{route, status, latency})
	if r.requests != nil {
		r.requests.Add(1)
	}
}

func (r *recorder) fail(kind failureKind, route, msg string) {
	if r == nil {
		return
	}
	switch kind {
	case failTransport:
		r.failures.Transport++
	case failServer:
		r.failures.ServerErrors++
	default:
		r.failures.Unexpected++
	}
	r.failures.note(route + ": " + msg)
}

// serverProblem counts a 5xx answer by its problem type.
func (r *recorder) serverProblem(p *problem) {
	if r == nil {
		return
	}
	slug := "other"
	if p != nil && p.Type != "" {
		slug = p.Type[strings.LastIndex(p.Type, "/")+1:]
	}
	if r.failures.ServerProblems == nil {
		r.failures.ServerProblems = map[string]int{}
	}
	r.failures.ServerProblems[slug]++
}

// note keeps msg unless it has it already or has enough: one broken thing
// usually fails many requests with the same message.
func (f *failures) note(msg string) {
	if len(f.Messages) < maxFailureMessages && !slices.Contains(f.Messages, msg) {
		f.Messages = append(f.Messages, msg)
	}
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of sorted
// latencies: the smallest value that at least p % of the samples do not exceed.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// latencyMs are latency percentiles in milliseconds.
type latencyMs struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// latencies sorts ds in place and returns their percentiles.
func latencies(ds []time.Duration) latencyMs {
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return latencyMs{
		P50: ms(percentile(ds, 50)), P90: ms(percentile(ds, 90)),
		P99: ms(percentile(ds, 99)), Max: ms(percentile(ds, 100)),
	}
}

// routeStats is one route's share of a run.
type routeStats struct {
	Route    string         `json:"route"`
	Count    int            `json:"count"`
	Statuses map[string]int `json:"statuses"` // "200", "409", …, "error" for no answer
	// Throughput is requests per second of the run's wall time.
	Throughput float64   `json:"throughput"`
	LatencyMs  latencyMs `json:"latencyMs"`
}

// routeOrder is the order of the summary's rows: reads, then a buyer's steps.
var routeOrder = []string{routeShows, routeSeatMap, routeHold, routeBook, routeRelease, routeHello}

// statusKey names a status in the summary; 0 is a request that got no answer.
func statusKey(status int) string {
	if status == 0 {
		return "error"
	}
	return strconv.Itoa(status)
}

// summary is the result of one load run, printed as a table or as JSON.
type summary struct {
	Command     string `json:"command"`
	URL         string `json:"url"`
	Concurrency int    `json:"concurrency"`
	// Auth says where the users' bearer tokens came from: "signed" by
	// seatload with -auth-secret, or guest "sessions"; empty for reads.
	Auth        string  `json:"auth,omitempty"`
	WallSeconds float64 `json:"wallSeconds"`
	Requests    int     `json:"requests"`
	// Throughput is all requests per second of wall time.
	Throughput   float64         `json:"throughput"`
	LatencyMs    latencyMs       `json:"latencyMs"`
	Routes       []routeStats    `json:"routes"`
	Errors       failures        `json:"errors"`
	Storm        *stormResult    `json:"storm,omitempty"`
	Steady       *steadyResult   `json:"steady,omitempty"`
	Contend      *contendResult  `json:"contend,omitempty"`
	Verification verification    `json:"verification"`
	Notes        []string        `json:"notes,omitempty"`
	OK           bool            `json:"ok"`
	extraText    func(io.Writer) // the command's own lines in the table output
}

// newSummary merges the recorders of a run that took wall.
func newSummary(command, url string, concurrency int, wall time.Duration, recs []*recorder) summary {
	s := summary{Command: command, URL: url, Concurrency: concurrency, WallSeconds: wall.Seconds()}
	byRoute := map[string]*routeStats{}
	lat := map[string][]time.Duration{}
	var all []time.Duration
	for _, r := range recs {
		if r == nil {
			continue
		}
		s.Errors.merge(r.failures)
		for _, x := range r.samples {
			rs := byRoute[x.route]
			if rs == nil {
				rs = &routeStats{Route: x.route, Statuses: map[string]int{}}
				byRoute[x.route] = rs
			}
			rs.Count++
			rs.Statuses[statusKey(x.status)]++
			lat[x.route] = append(lat[x.route], x.latency)
			all = append(all, x.latency)
		}
	}
	names := make([]string, 0, len(byRoute))
	for name := range byRoute {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		ia, ib := slices.Index(routeOrder, a), slices.Index(routeOrder, b)
		if ia < 0 {
			ia = len(routeOrder)
		}
		if ib < 0 {
			ib = len(routeOrder)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	for _, name := range names {
		rs := byRoute[name]
		rs.Throughput = perSecond(rs.Count, wall)
		rs.LatencyMs = latencies(lat[name])
		s.Routes = append(s.Routes, *rs)
		s.Requests += rs.Count
	}
	s.Throughput = perSecond(s.Requests, wall)
	s.LatencyMs = latencies(all)
	s.Notes = append(s.Notes, refusalNotes(byRoute)...)
	s.Notes = append(s.Notes, overloadNotes(s.Errors.ServerProblems)...)
	return s
}

// refusalNotes explain the answers that mean seatd refused the load itself
// rather than a seat: each is a failure already (no scenario expects one),
// and the note says what to change.
func refusalNotes(byRoute map[string]*routeStats) []string {
	var n401, n403, n429 int
	for _, rs := range byRoute {
		n401 += rs.Statuses["401"]
		n403 += rs.Statuses["403"]
		n429 += rs.Statuses["429"]
	}
	var notes []string
	if n401 > 0 {
		notes = append(notes, fmt.Sprintf("%s answered 401: seatd did not accept the bearer tokens (with -auth-secret: is it seatd's SEATD_AUTH_SECRET?)",
			plural(n401, "request", "requests")))
	}
	if n403 > 0 {
		notes = append(notes, fmt.Sprintf("%s answered 403: seatd forbade them (a body's userId that is not its token's?)", plural(n403, "request", "requests")))
	}
	if n429 > 0 {
		notes = append(notes, fmt.Sprintf("%s answered 429: seatd's rate limits (SEATD_RATE_USER, SEATD_RATE_ADDRESS) capped the load; "+
			"for throughput runs start seatd with SEATD_RATE_USER=off SEATD_RATE_ADDRESS=off", plural(n429, "request", "requests")))
	}
	return notes
}

// overloadNotes explain the 5xx answers that mean seatd had more load than
// its limits let it take, rather than a fault: each is a failure already.
func overloadNotes(byProblem map[string]int) []string {
	var notes []string
	if n := byProblem["overloaded"]; n > 0 {
		notes = append(notes, fmt.Sprintf("%s answered 503 overloaded: more requests were in flight than seatd's SEATD_MAX_REQUESTS (4096 by default) lets it serve at once; "+
			"for more concurrent users than that, start seatd with a larger SEATD_MAX_REQUESTS", plural(n, "request", "requests")))
	}
	if n := byProblem["timeout"]; n > 0 {
		notes = append(notes, fmt.Sprintf("%s answered 503 timeout: seatd did not answer them within its SEATD_REQUEST_TIMEOUT (5s by default)",
			plural(n, "request", "requests")))
	}
	return notes
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// finish decides whether the run passed and returns the error run reports when it
// did not.
func (s *summary) finish() error {
	s.OK = s.Errors.total() == 0 && s.Verification.OK
	if s.OK {
		return nil
	}
	var parts []string
	if n := s.Errors.Transport; n > 0 {
		parts = append(parts, plural(n, "request", "requests")+" without an answer")
	}
	if n := s.Errors.ServerErrors; n > 0 {
		parts = append(parts, plural(n, "server error (5xx)", "server errors (5xx)"))
	}
	if n := s.Errors.Unexpected; n > 0 {
		parts = append(parts, plural(n, "unexpected answer", "unexpected answers"))
	}
	if len(s.Errors.Messages) > 0 {
		parts = append(parts, "first: "+s.Errors.Messages[0])
	}
	switch v := s.Verification; {
	case v.Skipped != "":
		parts = append(parts, "verification skipped: "+v.Skipped)
	case !v.OK:
		msg := "verification FAILED: " + plural(v.ProblemCount, "problem", "problems")
		if len(v.Problems) > 0 {
			msg += ", first: " + v.Problems[0]
		}
		parts = append(parts, msg)
	}
	return fmt.Errorf("%s FAILED: %s", s.Command, strings.Join(parts, "; "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// emit prints s (as JSON or as tables) and returns the run's verdict.
func emit(w io.Writer, s summary, asJSON bool) error {
	err := s.finish()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(s); encErr != nil {
			return encErr
		}
		return err
	}
	s.writeText(w)
	return err
}

// writeText prints the summary tables.
func (s summary) writeText(w io.Writer) {
	fmt.Fprintf(w, "%s against %s, concurrency %d, wall time %s", s.Command, s.URL, s.Concurrency, fmtSeconds(s.WallSeconds))
	switch s.Auth {
	case "signed":
		fmt.Fprint(w, ", tokens signed with -auth-secret")
	case "sessions":
		fmt.Fprint(w, ", tokens of guest sessions")
	}
	fmt.Fprint(w, "\n\n")

	rows := [][]string{{"route", "status", "count"}}
	for _, r := range s.Routes {
		keys := make([]string, 0, len(r.Statuses))
		for k := range r.Statuses {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			rows = append(rows, []string{r.Route, k, strconv.Itoa(r.Statuses[k])})
		}
	}
	writeTable(w, rows)
	fmt.Fprintln(w)

	rows = [][]string{{"route", "count", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"}}
	row := func(name string, n int, tput float64, l latencyMs) {
		rows = append(rows, []string{name, strconv.Itoa(n), fmt.Sprintf("%.1f", tput),
			fmt.Sprintf("%.2f", l.P50), fmt.Sprintf("%.2f", l.P90), fmt.Sprintf("%.2f", l.P99), fmt.Sprintf("%.2f", l.Max)})
	}
	for _, r := range s.Routes {
		row(r.Route, r.Count, r.Throughput, r.LatencyMs)
	}
	row("all", s.Requests, s.Throughput, s.LatencyMs)
	writeTable(w, rows)
	fmt.Fprintln(w)

	if s.extraText != nil {
		s.extraText(w)
	}
	for _, n := range s.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	if e := s.Errors; e.total() > 0 {
		fmt.Fprintf(w, "ERRORS: %d without an answer, %d server errors (5xx), %d unexpected answers\n", e.Transport, e.ServerErrors, e.Unexpected)
		for _, m := range e.Messages {
			fmt.Fprintln(w, "  ", m)
		}
	}
	s.Verification.writeText(w)
}

func fmtSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

// writeTable prints rows as columns: names left-aligned, numbers right-aligned.
func writeTable(w io.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, cell := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		for i, cell := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i == 0 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString("  " + pad + cell)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}
