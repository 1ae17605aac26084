package loadtest

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Stages are where seatd's CPU goes while it answers requests, in the
// report's column order. stageOf decides a sample's stage.
const (
	stageHTTP        = "HTTP"
	stageJSON        = "JSON"
	stageAuth        = "auth"
	stageIdempotency = "idempotency"
	stageGate        = "gate"
	stageStore       = "store"
	stageLive        = "live"
	stageOther       = "other"
	stageRuntime     = "runtime"
)

// stages lists every stage, in the report's column order.
var stages = []string{stageHTTP, stageJSON, stageAuth, stageIdempotency, stageGate, stageStore, stageLive, stageOther, stageRuntime}

// frame is one function of a sample's stack: its full name
// ("seatmanager/booking.(*Service).pass") and its source file.
type frame struct{ fn, file string }

// stageOf returns the stage of one CPU sample, given its stack leaf first
// (inlined functions as frames of their own). The innermost frame that
// belongs to a stage decides: a function of seatd's own packages (see
// seatmanagerStage), or of the database drivers (store), whatever called it;
// a sample in encoding/json under seatmanager/httpapi is JSON (our own
// MarshalJSON methods that encoding/json calls count as encoding/json). The drivers
// of PostgreSQL and SQLite are store wherever they run. A stack with no
// such frame falls to the libraries on it: the Redis client's own goroutines
// (auto-pipelining, the pool) are gate, coder/websocket's live, net/http's
// HTTP (reading requests, writing answers, keep-alives). A stack of the
// runtime alone (the garbage collector's workers, the scheduler, sysmon) is
// runtime; allocation and GC assists on a request's stack are its stage's.
// Anything else is other.
func stageOf(stack []frame) string {
	json := false
	for i, f := range stack {
		pkg := packageOf(f.fn)
		switch {
		case isJSON(pkg):
			json = true
		case strings.HasPrefix(pkg, "seatmanager/") && i+1 < len(stack) && isJSON(packageOf(stack[i+1].fn)):
			// A MarshalJSON or UnmarshalJSON of ours, called by encoding/json:
			// part of the encoding its caller asked for.
			json = true
		case strings.HasPrefix(pkg, "seatmanager/"):
			if st := seatmanagerStage(pkg, path.Base(f.file)); st != "" {
				if st == stageHTTP && json {
					return stageJSON
				}
				return st
			}
		case strings.HasPrefix(pkg, "github.com/jackc/"), strings.HasPrefix(pkg, "modernc.org/"):
			return stageStore
		}
	}
	onlyRuntime := len(stack) > 0
	for _, f := range stack {
		pkg := packageOf(f.fn)
		switch {
		case strings.HasPrefix(pkg, "github.com/redis/go-redis/"):
			return stageGate
		case strings.HasPrefix(pkg, "github.com/coder/websocket"):
			return stageLive
		case pkg == "net/http" || strings.HasPrefix(pkg, "net/http/"):
			return stageHTTP
		}
		onlyRuntime = onlyRuntime && (pkg == "runtime" || strings.HasPrefix(pkg, "runtime/") || strings.HasPrefix(pkg, "internal/runtime/"))
	}
	if onlyRuntime {
		return stageRuntime
	}
	return stageOther
}

// seatmanagerStage returns the stage of a function of seatd's package pkg
// defined in file (a base name), or "" for plumbing that works for whoever
// calls it (internal/batch, internal/inflight, internal/breaker, the
// Redis package's pipelining), which leaves the decision to its callers.
// The domain package counts as gate for the gate's files and as other
// otherwise; the Redis package by file, since it holds the adapters of
// several stages.
func seatmanagerStage(pkg, file string) string {
	switch pkg {
	case "seatmanager/httpapi", "seatmanager/web":
		return stageHTTP
	case "seatmanager/auth":
		return stageAuth
	case "seatmanager/idempotency":
		return stageIdempotency
	case "seatmanager/memory":
		return stageGate // the in-process gate (and hold timers) of the embedded default
	case "seatmanager/postgres", "seatmanager/sqlite":
		return stageStore
	case "seatmanager/live":
		return stageLive
	case "seatmanager/booking":
		if file == "gate.go" || file == "confirm.go" {
			return stageGate // Service.pass, acquire, release, repair, confirm and their caches
		}
		return stageOther
	case "seatmanager/redis":
		switch file {
		case "gate.go", "expiry.go":
			return stageGate // the gate and the hold keys that expire holds
		case "markers.go":
			return stageIdempotency
		case "changes.go":
			return stageLive
		case "ratelimit.go":
			return stageOther
		}
		return ""
	case "seatmanager/internal/batch", "seatmanager/internal/inflight", "seatmanager/internal/breaker":
		return ""
	}
	return stageOther
}

// isJSON reports whether pkg is encoding/json or one of its own packages.
func isJSON(pkg string) bool {
	return pkg == "encoding/json" || strings.HasPrefix(pkg, "encoding/json/")
}

// packageOf returns the import path of a function's full name as profiles
// spell it: "seatmanager/booking" of "seatmanager/booking.(*Service).pass",
// "github.com/jackc/pgx/v5/pgconn" of "github.com/jackc/pgx/v5/pgconn.(*PgConn).Exec",
// "runtime" of "runtime.mallocgc". Type arguments ("Queue[...]") may hold
// slashes and dots of their own, so the path ends at the first dot after
// the last slash before any bracket or parenthesis.
func packageOf(fn string) string {
	head := fn
	if i := strings.IndexAny(head, "[("); i >= 0 {
		head = head[:i]
	}
	slash := strings.LastIndex(head, "/")
	dot := strings.Index(head[slash+1:], ".")
	if dot < 0 {
		return head
	}
	return fn[:slash+1+dot]
}

// cpuByStage sums a CPU profile's samples by stage (stageOf).
func cpuByStage(p *profile.Profile) (map[string]time.Duration, error) {
	col := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("not a CPU profile: no cpu/nanoseconds sample type in %v", p.SampleType)
	}
	by := map[string]time.Duration{}
	var stack []frame
	for _, s := range p.Sample {
		stack = stack[:0]
		for _, loc := range s.Location {
			for _, line := range loc.Line { // innermost first: the inlined functions, then their caller
				if line.Function != nil {
					stack = append(stack, frame{fn: line.Function.Name, file: line.Function.Filename})
				}
			}
		}
		by[stageOf(stack)] += time.Duration(s.Value[col])
	}
	return by, nil
}
