package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorder is a Run that keeps the batches it was given and can be held, so
// that a test can let jobs queue behind a running batch.
type recorder struct {
	mu      sync.Mutex
	batches [][]string
	gate    chan struct{} // if set, each batch waits for a receive... of a value
	started chan []string
}

func newRecorder(holding bool) *recorder {
	r := &recorder{started: make(chan []string, 100)}
	if holding {
		r.gate = make(chan struct{})
	}
	return r
}

func (r *recorder) run(ctx context.Context, jobs []string) []Result[string] {
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(jobs))
	r.mu.Unlock()
	r.started <- slices.Clone(jobs)
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
		}
	}
	out := make([]Result[string], len(jobs))
	for i, j := range jobs {
		if j == "fail" {
			out[i].Err = errors.New("failed: " + j)
		} else {
			out[i].Value = "done " + j
		}
	}
	return out
}

func (r *recorder) got() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

// doAsync runs q.Do in a goroutine and returns where its result arrives.
func doAsync(ctx context.Context, q *Queue[string, string], in string) <-chan Result[string] {
	ch := make(chan Result[string], 1)
	go func() {
		v, err := q.Do(ctx, in)
		ch <- Result[string]{v, err}
	}()
	return ch
}

// waitQueued waits until n jobs are queued behind the running batches.
func waitQueued(t *testing.T, q *Queue[string, string], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for queuedJobs(q) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d jobs queued after 5s, want %d", queuedJobs(q), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// queuedJobs counts the jobs in q's lanes.
func queuedJobs[In, Out any](q *Queue[In, Out]) int {
	n := 0
	for i, lane := range q.lanes {
		if i == 0 || lane != q.lanes[0] {
			n += len(lane)
		}
	}
	return n
}

func TestEachJobHearsItsOwnOutcome(t *testing.T) {
	r := newRecorder(false)
	q := New(Config[string, string]{Run: r.run})
	defer q.Close()
	if v, err := q.Do(t.Context(), "a"); v != "done a" || err != nil {
		t.Errorf("Do(a): got (%q, %v), want (done a, nil)", v, err)
	}
	if _, err := q.Do(t.Context(), "fail"); err == nil || err.Error() != "failed: fail" {
		t.Errorf("Do(fail): got %v, want its own error", err)
	}
}

func TestQueuedJobsMakeTheNextBatch(t *testing.T) {
	r := newRecorder(true)
	q := New(Config[string, string]{Run: r.run, Max: 3})
	defer q.Close()
	first := doAsync(t.Context(), q, "first")
	<-r.started
	var rest []<-chan Result[string]
	for i := range 4 {
		rest = append(rest, doAsync(t.Context(), q, fmt.Sprint("j", i)))
		waitQueued(t, q, i+1)
	}
	close(r.gate) // every batch from now on runs at once
	for i, ch := range append([]<-chan Result[string]{first}, rest...) {
		if res := <-ch; res.Err != nil {
			t.Errorf("job %d: %v", i, res.Err)
		}
	}
	batches := r.got()
	if len(batches) != 3 || len(batches[0]) != 1 || len(batches[1]) != 3 || len(batches[2]) != 1 {
		t.Errorf("got batches %v, want [first], then three of the four queued (Max 3), then the last", batches)
	}
}

func TestExclusiveJobsWaitForTheNextBatch(t *testing.T) {
	r := newRecorder(true)
	q := New(Config[string, string]{Run: r.run, Exclusive: func(in string) []string { return []string{in[:1]} }})
	defer q.Close()
	first := doAsync(t.Context(), q, "x0")
	<-r.started
	chans := []<-chan Result[string]{first}
	for i, in := range []string{"a1", "b1", "a2", "c1"} {
		chans = append(chans, doAsync(t.Context(), q, in))
		waitQueued(t, q, i+1)
	}
	close(r.gate)
	for _, ch := range chans {
		if res := <-ch; res.Err != nil {
			t.Error(res.Err)
		}
	}
	want := [][]string{{"x0"}, {"a1", "b1", "c1"}, {"a2"}}
	if diff := cmp.Diff(want, r.got()); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}

// TestAffinityKeepsANameOnOneWorker: with four workers, jobs of one name
// queue behind that name's running batch and make one batch after it, while
// a job of another worker's name runs at once; without Affinity, idle
// workers would have taken them one by one.
func TestAffinityKeepsANameOnOneWorker(t *testing.T) {
	r := newRecorder(true)
	q := New(Config[string, string]{Run: r.run, Workers: 4, Affinity: func(in string) string { return in[:1] }})
	defer q.Close()
	other := ""
	for _, name := range []string{"b", "c", "d", "e", "f", "g"} {
		if q.lane(name) != q.lane("a") {
			other = name
			break
		}
	}
	if other == "" {
		t.Fatal("every name tried shares a's worker")
	}
	chans := []<-chan Result[string]{doAsync(t.Context(), q, "a0")}
	<-r.started
	for i, in := range []string{"a1", "a2", "a3"} {
		chans = append(chans, doAsync(t.Context(), q, in))
		waitQueued(t, q, i+1)
	}
	chans = append(chans, doAsync(t.Context(), q, other+"0"))
	if got := <-r.started; !slices.Equal(got, []string{other + "0"}) {
		t.Fatalf("the next batch to start: got %v, want [%s0] on a worker of its own", got, other)
	}
	close(r.gate)
	for _, ch := range chans {
		if res := <-ch; res.Err != nil {
			t.Error(res.Err)
		}
	}
	want := [][]string{{"a0"}, {other + "0"}, {"a1", "a2", "a3"}}
	if diff := cmp.Diff(want, r.got()); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}

func TestCallerLeavingBeforeItsBatchRunsNothing(t *testing.T) {
	r := newRecorder(true)
	q := New(Config[string, string]{Run: r.run})
	defer q.Close()
	first := doAsync(t.Context(), q, "first")
	<-r.started
	ctx, cancel := context.WithCancel(t.Context())
	gone := doAsync(ctx, q, "gone")
	waitQueued(t, q, 1)
	cancel()
	if res := <-gone; !errors.Is(res.Err, context.Canceled) {
		t.Errorf("withdrawn job: got %v, want context.Canceled", res.Err)
	}
	close(r.gate)
	<-first
	if v, err := q.Do(t.Context(), "after"); err != nil || v != "done after" {
		t.Errorf("Do after: got (%q, %v)", v, err)
	}
	for _, b := range r.got() {
		if slices.Contains(b, "gone") {
			t.Errorf("got batch %v, want the withdrawn job never run", b)
		}
	}
}

func TestCallerLeavingDuringItsBatchHearsUnknown(t *testing.T) {
	r := newRecorder(true)
	q := New(Config[string, string]{Run: r.run})
	defer q.Close()
	ctx, cancel := context.WithCancel(t.Context())
	res := doAsync(ctx, q, "slow")
	<-r.started
	cancel()
	got := <-res
	var unknown *UnknownError
	if !errors.As(got.Err, &unknown) || !errors.Is(got.Err, context.Canceled) {
		t.Errorf("got %v, want an UnknownError wrapping context.Canceled", got.Err)
	}
	close(r.gate) // the batch still ends, and the queue goes on
	if v, err := q.Do(t.Context(), "next"); err != nil || v != "done next" {
		t.Errorf("Do next: got (%q, %v)", v, err)
	}
}

func TestBatchEndsAtItsLastJobsDeadline(t *testing.T) {
	deadlines := make(chan time.Time, 1)
	q := New(Config[string, string]{Timeout: time.Hour, Run: func(ctx context.Context, jobs []string) []Result[string] {
		d, _ := ctx.Deadline()
		deadlines <- d
		return make([]Result[string], len(jobs))
	}})
	defer q.Close()
	want := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(t.Context(), want)
	defer cancel()
	q.Do(ctx, "a")
	if d := <-deadlines; !d.Equal(want) {
		t.Errorf("batch deadline: got %v, want the job's %v", d, want)
	}
	q.Do(context.Background(), "no deadline")
	if d := <-deadlines; time.Until(d) < 59*time.Minute {
		t.Errorf("batch deadline of a job without one: got %v from now, want Timeout (1h)", time.Until(d))
	}
}

func TestCloseAnswersEveryJob(t *testing.T) {
	r := newRecorder(true)
	q := New(Config[string, string]{Run: r.run, Workers: 2})
	running := doAsync(t.Context(), q, "running")
	<-r.started
	running2 := doAsync(t.Context(), q, "running2")
	<-r.started
	queuedJob := doAsync(t.Context(), q, "queued")
	waitQueued(t, q, 1)
	closed := make(chan struct{})
	go func() { q.Close(); close(closed) }()
	if res := <-queuedJob; !errors.Is(res.Err, ErrClosed) {
		t.Errorf("queued job: got %v, want ErrClosed", res.Err)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while batches were still running")
	case <-time.After(10 * time.Millisecond):
	}
	close(r.gate)
	<-closed
	for _, ch := range []<-chan Result[string]{running, running2} {
		if res := <-ch; res.Err != nil {
			t.Errorf("running job: got %v, want its batch's outcome", res.Err)
		}
	}
	if _, err := q.Do(t.Context(), "late"); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: got %v, want ErrClosed", err)
	}
}

// TestLookupReadsOnceForMany: lookups that arrive while a read runs share the
// next read, and each gets only what it asked for.
func TestLookupReadsOnceForMany(t *testing.T) {
	var mu sync.Mutex
	var reads [][]int
	hold := make(chan struct{})
	first := make(chan struct{})
	l := NewLookup(1, func(ctx context.Context, keys []int) (map[int]string, error) {
		mu.Lock()
		reads = append(reads, slices.Clone(keys))
		n := len(reads)
		mu.Unlock()
		if n == 1 {
			close(first)
			<-hold
		}
		out := map[int]string{}
		for _, k := range keys {
			if k%2 == 0 {
				out[k] = fmt.Sprint("v", k)
			}
		}
		return out, nil
	})
	defer l.Close()
	go l.Get(t.Context(), []int{0})
	<-first
	var wg sync.WaitGroup
	got := make([]map[int]string, 10)
	for i := range 10 {
		wg.Go(func() {
			m, err := l.Get(t.Context(), []int{i, i + 1})
			if err != nil {
				t.Error(err)
			}
			got[i] = m
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for queuedJobs(l.q) < 10 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(hold)
	wg.Wait()
	if len(reads) != 2 {
		t.Errorf("got %d reads for 11 lookups, want 2: %v", len(reads), reads)
	}
	for i, m := range got {
		even := i + i%2
		if len(m) != 1 || m[even] != fmt.Sprint("v", even) {
			t.Errorf("lookup %d: got %v, want just key %d", i, m, even)
		}
	}
}

// TestAwaitRunning: with AwaitRunning, a caller that leaves while its batch
// runs still hears the batch's outcome.
func TestAwaitRunning(t *testing.T) {
	r := newRecorder(true)
	q := New(Config[string, string]{Run: r.run, AwaitRunning: true})
	defer q.Close()
	ctx, cancel := context.WithCancel(t.Context())
	res := doAsync(ctx, q, "slow")
	<-r.started
	cancel()
	select {
	case got := <-res:
		t.Fatalf("Do returned %v before its batch ended", got)
	case <-time.After(20 * time.Millisecond):
	}
	close(r.gate)
	if got := <-res; got.Err != nil || got.Value != "done slow" {
		t.Errorf("got %+v, want the batch's outcome", got)
	}
}
