package loadtest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/pprof/profile"
)

// Stacks as a Go CPU profile has them, leaf first (abridged).
var (
	serve     = frame{"net/http.(*conn).serve", "/usr/lib/go/src/net/http/server.go"}
	handler   = frame{"seatmanager/httpapi.(*Server).handleHold", "/src/httpapi/holds.go"}
	service   = frame{"seatmanager/booking.(*Service).Hold", "/src/booking/service.go"}
	pass      = frame{"seatmanager/booking.(*Service).pass", "/src/booking/gate.go"}
	middle    = frame{"seatmanager/idempotency.(*Middleware).ServeHTTP", "/src/idempotency/middleware.go"}
	goexit    = frame{"runtime.goexit", "/usr/lib/go/src/runtime/asm_amd64.s"}
	malloc    = frame{"runtime.mallocgc", "/usr/lib/go/src/runtime/malloc.go"}
	syscallW  = frame{"syscall.write", "/usr/lib/go/src/syscall/zsyscall_linux_amd64.go"}
	pgxExec   = frame{"github.com/jackc/pgx/v5/pgconn.(*PgConn).execExtendedSuffix", "/mod/pgx/pgconn/pgconn.go"}
	redisDo   = frame{"github.com/redis/go-redis/v9.(*baseClient).process", "/mod/go-redis/redis.go"}
	pipelined = frame{"seatmanager/redis.autoPipeline.Eval", "/src/redis/pipelined.go"}
	batchRun  = frame{"seatmanager/internal/batch.(*Queue[go.shape.struct { seatmanager/booking.Receipt }]).flush", "/src/internal/batch/batch.go"}
	marshal   = frame{"encoding/json.Marshal", "/usr/lib/go/src/encoding/json/encode.go"}
)

func TestStageOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stack []frame // leaf first
		want  string
	}{
		{"handler's own code", []frame{malloc, handler, serve, goexit}, stageHTTP},
		{"net/http alone: reading a request", []frame{syscallW, {"bufio.(*Reader).Read", "bufio.go"}, serve, goexit}, stageHTTP},
		{"encoding/json under the handler", []frame{malloc, {"encoding/json.(*encodeState).string", "encode.go"}, marshal, {"seatmanager/httpapi.writeJSON", "/src/httpapi/encode.go"}, handler, serve}, stageJSON},
		{"our MarshalJSON called by encoding/json", []frame{{"seatmanager/booking.SeatID.MarshalJSON", "/src/booking/booking.go"}, {"encoding/json.marshalerEncoder", "encode.go"}, marshal, handler, serve}, stageJSON},
		{"encoding/json in the store", []frame{marshal, {"seatmanager/postgres.(*Store).saveReceipt", "/src/postgres/receipt.go"}, handler}, stageStore},
		{"auth", []frame{{"crypto/hmac.(*hmac).Sum", "hmac.go"}, {"seatmanager/auth.(*Verifier).Verify", "/src/auth/verify.go"}, {"seatmanager/httpapi.(*Server).caller", "/src/httpapi/caller.go"}, serve}, stageAuth},
		{"idempotency's own work", []frame{{"crypto/sha256.block", "sha256.go"}, {"seatmanager/idempotency.Fingerprint", "/src/idempotency/fingerprint.go"}, middle, serve}, stageIdempotency},
		{"idempotency's markers in Redis", []frame{redisDo, pipelined, {"seatmanager/redis.(*Markers).Claim", "/src/redis/markers.go"}, middle, serve}, stageIdempotency},
		{"gate in the domain", []frame{malloc, pass, service, handler, middle, serve}, stageGate},
		{"gate in Redis", []frame{redisDo, pipelined, {"seatmanager/redis.(*Gate).Acquire", "/src/redis/gate.go"}, pass, service, handler}, stageGate},
		{"the Redis client's own goroutine", []frame{syscallW, redisDo, {"github.com/redis/go-redis/v9.(*AutoPipeliner).flush", "/mod/go-redis/autopipeline.go"}, goexit}, stageGate},
		{"in-process gate", []frame{{"seatmanager/memory.(*Gate).Acquire", "/src/memory/gate.go"}, pass, service}, stageGate},
		{"pgx under the service", []frame{syscallW, pgxExec, {"seatmanager/postgres.(*Store).Hold", "/src/postgres/hold.go"}, service, handler}, stageStore},
		{"pgx under a batch, under idempotency", []frame{pgxExec, batchRun, {"seatmanager/idempotency.(*Middleware).saveRefusal", "/src/idempotency/groupcommit.go"}}, stageStore},
		{"sqlite's driver", []frame{{"modernc.org/libc.Xmemcpy", "libc.go"}, {"modernc.org/sqlite.(*conn).step", "sqlite.go"}, service}, stageStore},
		{"a batch of the store", []frame{malloc, {"seatmanager/postgres.(*Store).flushHolds", "/src/postgres/batch.go"}, batchRun, goexit}, stageStore},
		{"a batch alone", []frame{malloc, batchRun, goexit}, stageOther},
		{"live hub", []frame{syscallW, {"github.com/coder/websocket.(*Conn).Write", "write.go"}, {"seatmanager/live.(*Hub).send", "/src/live/hub.go"}, goexit}, stageLive},
		{"live fan-out through Redis", []frame{redisDo, {"seatmanager/redis.Changes.Publish", "/src/redis/changes.go"}, goexit}, stageLive},
		{"websocket alone", []frame{{"github.com/coder/websocket.(*Conn).timeoutLoop", "conn.go"}, goexit}, stageLive},
		{"the domain's own code", []frame{malloc, {"seatmanager/booking.canonicalSeats", "/src/booking/service.go"}, service, handler, serve}, stageOther},
		{"metrics middleware", []frame{{"github.com/prometheus/client_golang/prometheus.(*histogram).Observe", "histogram.go"}, {"seatmanager/metrics.(*Metrics).Middleware.func1", "/src/metrics/metrics.go"}, serve}, stageOther},
		{"rate limiter in Redis", []frame{redisDo, pipelined, {"seatmanager/redis.(*RateLimiter).Allow", "/src/redis/ratelimit.go"}, handler}, stageOther},
		{"GC worker", []frame{{"runtime.scanobject", "mgcmark.go"}, {"runtime.gcDrain", "mgcmark.go"}, {"runtime.gcBgMarkWorker", "mgc.go"}, goexit}, stageRuntime},
		{"scheduler and netpoll", []frame{{"internal/runtime/syscall.EpollWait", "syscall.go"}, {"runtime.netpoll", "netpoll_epoll.go"}, {"runtime.findRunnable", "proc.go"}, {"runtime.schedule", "proc.go"}, {"runtime.mcall", "asm_amd64.s"}}, stageRuntime},
		{"profiler's pseudo-frame", []frame{{"runtime._ExternalCode", ""}}, stageRuntime},
		{"a timer of main", []frame{{"time.Sleep", "sleep.go"}, {"main.run.func3", "/src/cmd/seatd/main.go"}, goexit}, stageOther},
		{"no frames", nil, stageOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stageOf(tc.stack); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if !slices.Contains(stages, tc.want) {
				t.Errorf("%s is not among the report's columns %v", tc.want, stages)
			}
		})
	}
}

func TestPackageOf(t *testing.T) {
	for fn, want := range map[string]string{
		"seatmanager/booking.(*Service).pass":                                     "seatmanager/booking",
		"seatmanager/postgres.(*Store).Hold.func1":                                "seatmanager/postgres",
		"github.com/jackc/pgx/v5/pgconn.(*PgConn).Exec":                           "github.com/jackc/pgx/v5/pgconn",
		"github.com/redis/go-redis/v9.(*baseClient).process":                      "github.com/redis/go-redis/v9",
		"runtime.mallocgc":                                                        "runtime",
		"main.run":                                                                "main",
		"seatmanager/internal/batch.(*Queue[go.shape.struct { a/b.C }]).flush":    "seatmanager/internal/batch",
		"seatmanager/internal/batch.Run[go.shape.*uint8,seatmanager/booking.X]":   "seatmanager/internal/batch",
		"encoding/json.(*decodeState).object":                                     "encoding/json",
		"runtime._ExternalCode":                                                   "runtime",
		"net/http.HandlerFunc.ServeHTTP":                                          "net/http",
		"internal/runtime/syscall.EpollWait":                                      "internal/runtime/syscall",
		"github.com/coder/websocket.(*Conn).Write":                                "github.com/coder/websocket",
		"seatmanager/httpapi.(*Server).routes.HandlerFunc.ServeHTTP.func3":        "seatmanager/httpapi",
		"seatmanager/booking.(*Service).Hold":                                     "seatmanager/booking",
		"github.com/prometheus/client_golang/prometheus.(*histogram).Observe":     "github.com/prometheus/client_golang/prometheus",
		"modernc.org/sqlite/lib.Xsqlite3VdbeExec":                                 "modernc.org/sqlite/lib",
		"seatmanager/internal/inflight.(*Group[go.shape.string,go.shape.int]).Do": "seatmanager/internal/inflight",
	} {
		t.Run(fn, func(t *testing.T) {
			if got := packageOf(fn); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestCPUByStage builds a CPU profile as the runtime writes one (with an
// inlined call in one location), writes and parses it, and sums it by stage.
func TestCPUByStage(t *testing.T) {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     int64(10 * time.Millisecond),
	}
	fns := map[frame]*profile.Function{}
	fn := func(f frame) *profile.Function {
		if fns[f] == nil {
			fns[f] = &profile.Function{ID: uint64(len(fns) + 1), Name: f.fn, SystemName: f.fn, Filename: f.file}
			p.Function = append(p.Function, fns[f])
		}
		return fns[f]
	}
	// loc makes one location of frames, innermost first: one frame, or an
	// inlined function and its callers.
	loc := func(frames ...frame) *profile.Location {
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Address: uint64(0x1000 + len(p.Location))}
		for _, f := range frames {
			l.Line = append(l.Line, profile.Line{Function: fn(f), Line: 1})
		}
		p.Location = append(p.Location, l)
		return l
	}
	sample := func(ms int64, locs ...*profile.Location) {
		p.Sample = append(p.Sample, &profile.Sample{Location: locs, Value: []int64{ms / 10, ms * int64(time.Millisecond)}})
	}
	gateRedis := frame{"seatmanager/redis.(*Gate).Acquire", "/src/redis/gate.go"}
	lServe, lHandler, lService := loc(serve), loc(handler), loc(service)
	sample(30, loc(malloc), lHandler, lServe)  // HTTP
	sample(20, loc(marshal), lHandler, lServe) // JSON
	sample(50, loc(pgxExec), loc(frame{"seatmanager/postgres.(*Store).Hold", "/src/postgres/hold.go"}), lService, lHandler)
	sample(40, loc(redisDo, pipelined, gateRedis), loc(pass), lService) // inlined into Acquire: gate
	sample(10, loc(frame{"runtime.gcBgMarkWorker", "mgc.go"}), loc(goexit))
	sample(10, loc(malloc, frame{"seatmanager/booking.canonicalSeats", "/src/booking/service.go"}), lService, lHandler) // inlined: other

	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	parsed, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cpuByStage(parsed)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		stageHTTP: 30 * time.Millisecond, stageJSON: 20 * time.Millisecond, stageStore: 50 * time.Millisecond,
		stageGate: 40 * time.Millisecond, stageRuntime: 10 * time.Millisecond, stageOther: 10 * time.Millisecond,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cpuByStage (-want +got):\n%s", diff)
	}

	p.SampleType = []*profile.ValueType{{Type: "alloc_space", Unit: "bytes"}}
	for _, s := range p.Sample {
		s.Value = s.Value[:1]
	}
	if _, err := cpuByStage(p); err == nil {
		t.Error("a heap profile: got no error, want one")
	}
}
