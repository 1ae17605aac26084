package k6

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"
)

// shared is what all VUs of one run share: the compiled script, the
// environment, the metrics and the console. Everything else is per VU, since a
// goja.Runtime is not safe for concurrent use.
type shared struct {
	prog    *goja.Program
	env     map[string]string
	metrics *registry
	console *console
}

// vu is one k6 virtual user: its own runtime, in which the init code ran once,
// and its own HTTP client, as each k6 VU has its own connections.
type vu struct {
	id       int
	rt       *goja.Runtime
	sh       *shared
	exports  map[string]goja.Value
	init     bool              // running the init code
	ctx      context.Context   // of the current call into the runtime
	tags     map[string]string // on every sample: scenario, group
	callback *statusSet        // the response callback; nil: no http_req_failed
	client   *httpClient
}

// newVU makes VU id and runs the script's init code in it.
func newVU(ctx context.Context, sh *shared, id int, tags map[string]string) (*vu, error) {
	v := &vu{
		id: id, rt: goja.New(), sh: sh, tags: tags, init: true,
		callback: &statusSet{ranges: [][2]int{{200, 399}}}, // k6's default
		client:   newHTTPClient(),
	}
	modules := v.modules()
	env := v.rt.NewObject()
	for k, val := range sh.env {
		must(env.Set(k, val))
	}
	must(v.rt.Set("__ENV", env))
	must(v.rt.Set("__VU", id))
	must(v.rt.Set("__ITER", 0))
	must(v.rt.Set("console", v.consoleObject()))
	crypto := v.rt.NewObject()
	must(crypto.Set("randomUUID", func() string { return randomUUID() }))
	must(v.rt.Set("crypto", crypto))
	must(v.rt.Set("__k6_module", func(name string) *goja.Object {
		m, ok := modules[name]
		if !ok {
			v.throw("the shim does not provide the module %q", name)
		}
		return m
	}))
	must(v.rt.Set("__k6_exports", func(call goja.FunctionCall) goja.Value {
		obj := call.Argument(0).ToObject(v.rt)
		v.exports = map[string]goja.Value{}
		for _, k := range obj.Keys() {
			v.exports[k] = obj.Get(k)
		}
		return goja.Undefined()
	}))
	_, err := v.do(ctx, func() (goja.Value, error) { return v.rt.RunProgram(sh.prog) })
	v.init = false
	if err != nil {
		return nil, fmt.Errorf("init of VU %d: %w", id, err)
	}
	return v, nil
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// do runs f in the runtime; ctx ending interrupts the script, and aborts
// its HTTP requests and sleeps.
func (v *vu) do(ctx context.Context, f func() (goja.Value, error)) (goja.Value, error) {
	v.ctx = ctx
	stop := context.AfterFunc(ctx, func() { v.rt.Interrupt(context.Cause(ctx)) })
	defer stop()
	return f()
}

// call calls the exported function name with args (nil: none).
func (v *vu) call(ctx context.Context, name string, args ...goja.Value) (goja.Value, error) {
	fn, ok := goja.AssertFunction(v.exports[name])
	if !ok {
		return nil, fmt.Errorf("the script exports no function %s", name)
	}
	return v.do(ctx, func() (goja.Value, error) { return fn(goja.Undefined(), args...) })
}

// parseJSON parses s in the VU's runtime, as k6 hands setup's data to each VU.
func (v *vu) parseJSON(s string) (goja.Value, error) {
	if s == "" {
		return goja.Undefined(), nil
	}
	parse, _ := goja.AssertFunction(v.rt.Get("JSON").ToObject(v.rt).Get("parse"))
	return parse(goja.Undefined(), v.rt.ToValue(s))
}

// stringify is JSON.stringify in the VU's runtime; undefined gives "".
func (v *vu) stringify(val goja.Value) (string, error) {
	if val == nil || goja.IsUndefined(val) {
		return "", nil
	}
	stringify, _ := goja.AssertFunction(v.rt.Get("JSON").ToObject(v.rt).Get("stringify"))
	s, err := stringify(goja.Undefined(), val)
	if err != nil {
		return "", err
	}
	if goja.IsUndefined(s) {
		return "", nil
	}
	return s.String(), nil
}

// throw raises a JavaScript error from a Go function the script called.
func (v *vu) throw(format string, args ...any) {
	panic(v.rt.NewGoError(fmt.Errorf(format, args...)))
}

// sampleTags returns the VU's tags with extra over them, as k6 merges a
// call's tags over the system ones.
func (v *vu) sampleTags(extra map[string]string) map[string]string {
	tags := make(map[string]string, len(v.tags)+len(extra))
	maps.Copy(tags, v.tags)
	maps.Copy(tags, extra)
	return tags
}

// stringMap reads a JavaScript object of tags or headers; undefined or null is empty.
func (v *vu) stringMap(val goja.Value, what string) map[string]string {
	out := map[string]string{}
	if val == nil || goja.IsUndefined(val) || goja.IsNull(val) {
		return out
	}
	obj, ok := val.(*goja.Object)
	if !ok {
		v.throw("%s must be an object, not %s", what, val)
	}
	for _, k := range obj.Keys() {
		out[k] = obj.Get(k).String()
	}
	return out
}

// modules builds the module objects the script's imports bind to.
func (v *vu) modules() map[string]*goja.Object {
	k6 := v.rt.NewObject()
	must(k6.Set("check", v.check))
	must(k6.Set("fail", func(msg string) { v.throw("%s", msg) }))
	must(k6.Set("sleep", v.sleep))

	metrics := v.rt.NewObject()
	must(metrics.Set("Counter", v.newCounter))

	return map[string]*goja.Object{"k6": k6, "k6/http": v.httpModule(), "k6/metrics": metrics}
}

// check is k6's check(value, {name: fn or bool}, tags): one sample of the
// checks rate per name, tagged with it; true if all passed.
func (v *vu) check(call goja.FunctionCall) goja.Value {
	val := call.Argument(0)
	sets, ok := call.Argument(1).(*goja.Object)
	if !ok {
		v.throw("check: the second argument must be an object of checks")
	}
	extra := v.stringMap(call.Argument(2), "check tags")
	all := true
	for _, name := range sets.Keys() {
		c := sets.Get(name)
		pass := c.ToBoolean()
		if fn, ok := goja.AssertFunction(c); ok {
			r, err := fn(goja.Undefined(), val)
			if err != nil {
				panic(err) // the check's exception is the script's, as in k6
			}
			pass = r.ToBoolean()
		}
		tags := v.sampleTags(extra)
		tags["check"] = name
		v.sh.metrics.add("checks", tags, boolValue(pass))
		all = all && pass
	}
	return v.rt.ToValue(all)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sleep is k6's sleep(seconds); the end of the run cuts it short.
func (v *vu) sleep(seconds float64) {
	if math.IsNaN(seconds) || seconds <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(seconds * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-v.ctx.Done():
	}
}

// newCounter is k6's `new Counter(name)`: allowed in init code only.
func (v *vu) newCounter(call goja.ConstructorCall) *goja.Object {
	if !v.init {
		v.throw("metrics must be declared in the init context")
	}
	name := call.Argument(0).String()
	if err := v.sh.metrics.define(name, counter); err != nil {
		v.throw("new Counter: %v", err)
	}
	must(call.This.Set("name", name))
	must(call.This.Set("add", func(c goja.FunctionCall) goja.Value {
		if v.init {
			v.throw("%s.add: metrics cannot be added to in the init context", name)
		}
		n := c.Argument(0).ToFloat()
		if math.IsNaN(n) || math.IsInf(n, 0) {
			v.throw("%s.add: %s is not a number", name, c.Argument(0))
		}
		v.sh.metrics.add(name, v.sampleTags(v.stringMap(c.Argument(1), name+" tags")), n)
		return v.rt.ToValue(true)
	}))
	return nil
}

// consoleObject is k6's console: lines go to the run's log with the VU's id.
func (v *vu) consoleObject() *goja.Object {
	c := v.rt.NewObject()
	for _, level := range []string{"log", "info", "warn", "error", "debug"} {
		must(c.Set(level, func(call goja.FunctionCall) goja.Value {
			parts := make([]string, len(call.Arguments))
			for i, a := range call.Arguments {
				parts[i] = a.String()
				if obj, ok := a.(*goja.Object); ok && obj.ClassName() != "Function" && obj.ClassName() != "Error" {
					if s, err := v.stringify(a); err == nil && s != "" {
						parts[i] = s
					}
				}
			}
			v.sh.console.printf("VU %d console.%s: %s", v.id, level, strings.Join(parts, " "))
			return goja.Undefined()
		}))
	}
	return c
}

// console collects what the script prints; past max lines it only counts.
type console struct {
	mu    sync.Mutex
	max   int
	lines []string
	more  int
}

func (c *console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) >= c.max {
		c.more++
		return
	}
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}

// randomUUID is crypto.randomUUID: a version 4 UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// runJS runs a snippet in a VU of its own; the shim's tests of the runtime use it.
func runJS(tb testing.TB, sh *shared, src string) (goja.Value, error) {
	tb.Helper()
	v, err := newVU(tb.Context(), sh, 1, map[string]string{})
	if err != nil {
		tb.Fatal(err)
	}
	return v.do(tb.Context(), func() (goja.Value, error) { return v.rt.RunString(src) })
}

func TestRuntime(t *testing.T) {
	prog, err := goja.Compile("init.js", "", true)
	if err != nil {
		t.Fatal(err)
	}
	sh := &shared{prog: prog, env: map[string]string{"SEATS": "3"}, metrics: newRegistry(), console: &console{max: 10}}
	// Each name the translation lets a script import is there.
	v, err := newVU(t.Context(), sh, 1, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	for module, names := range provided {
		m := v.modules()[module]
		for _, name := range names {
			if _, ok := goja.AssertFunction(m.Get(name)); !ok {
				t.Errorf("%s from %s is not a function", name, module)
			}
		}
	}

	tests := []struct {
		name, src, want, err string
	}{
		{name: "env and VU", src: `__ENV.SEATS + "/" + __VU + "/" + __ITER`, want: "3/1/0"},
		{name: "a check", src: `const { check } = __k6_module("k6"); check(2, {"is 2": (n) => n === 2, "is 3": (n) => n === 3})`, want: "false"},
		{name: "fail throws", src: `const { fail } = __k6_module("k6"); fail("no show")`, err: "no show"},
		{name: "a check that throws", src: `const { check } = __k6_module("k6"); check(null, {"x": (r) => r.status})`, err: "TypeError"},
		{name: "a uuid", src: `/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID())`, want: "true"},
		{name: "no counter outside init", src: `const { Counter } = __k6_module("k6/metrics"); new Counter("late")`, err: "init context"},
		{name: "a refused connection", src: `const r = __k6_module("k6/http").get("http://127.0.0.1:1/"); r.status + " " + (r.error !== "")`, want: "0 true"},
		{name: "expected statuses", src: `__k6_module("k6/http").expectedStatuses(200, {min: 400, max: 404}) !== null`, want: "true"},
		{name: "no function callback", src: `__k6_module("k6/http").setResponseCallback((r) => true)`, err: "expectedStatuses"},
		{name: "a param the shim lacks", src: `__k6_module("k6/http").get("http://127.0.0.1:1/", {redirects: 0})`, err: "params.redirects"},
		{name: "a form body", src: `__k6_module("k6/http").post("http://127.0.0.1:1/", {a: 1})`, err: "body"},
		{name: "a json selector the shim lacks", src: `__k6_module("k6/http").get("http://127.0.0.1:1/").json("seats.#.id")`, err: "selector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runJS(t, sh, tt.src)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if a, _ := sh.metrics.get("checks", map[string]string{"check": "is 2"}); a.count != 1 || a.nonzero != 1 {
		t.Errorf("checks{check:is 2} = %+v, want 1 passed", a)
	}
	if a, _ := sh.metrics.get("checks", map[string]string{"check": "is 3"}); a.count != 1 || a.nonzero != 0 {
		t.Errorf("checks{check:is 3} = %+v, want 1 failed", a)
	}
	// Init code may declare metrics but not send requests, as in k6.
	initProg, err := goja.Compile("init.js", `__k6_module("k6/http").get("http://127.0.0.1:1/")`, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newVU(t.Context(), &shared{prog: initProg, metrics: newRegistry(), console: &console{}}, 1, nil); err == nil || !strings.Contains(err.Error(), "init context") {
		t.Errorf("a request in init code: %v, want an error naming the init context", err)
	}

	var ierr *goja.InterruptedError
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("the run ended"))
	if _, err := v.do(ctx, func() (goja.Value, error) { return v.rt.RunString("for (;;) {}") }); !errors.As(err, &ierr) {
		t.Errorf("an endless loop after its context ended: %v, want it interrupted", err)
	}
}
