package k6

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
)

const (
	// requestTimeout is k6's default timeout of a request.
	requestTimeout = 60 * time.Second
	// maxBody bounds what the shim reads of a response body.
	maxBody = 16 << 20
	// userAgent names the shim, not k6, to seatd's logs.
	userAgent = "seatmanager-k6-shim"
)

// httpClient is one VU's client: its own connections, as in k6.
type httpClient struct {
	transport *http.Transport
	client    *http.Client
}

func newHTTPClient() *httpClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4
	return &httpClient{transport: t, client: &http.Client{Transport: t}}
}

// close drops the VU's idle connections.
func (c *httpClient) close() { c.transport.CloseIdleConnections() }

// statusSet is what http.expectedStatuses returns: the statuses a response
// callback takes as expected; any other makes the request a failed one.
type statusSet struct {
	ranges [][2]int // inclusive
}

func (s *statusSet) expected(status int) bool {
	for _, r := range s.ranges {
		if status >= r[0] && status <= r[1] {
			return true
		}
	}
	return false
}

// httpModule builds k6/http for the VU.
func (v *vu) httpModule() *goja.Object {
	m := v.rt.NewObject()
	must(m.Set("get", func(c goja.FunctionCall) goja.Value {
		return v.request("GET", c.Argument(0), nil, c.Argument(1))
	}))
	for name, method := range map[string]string{"post": "POST", "put": "PUT", "patch": "PATCH", "del": "DELETE"} {
		must(m.Set(name, func(c goja.FunctionCall) goja.Value {
			return v.request(method, c.Argument(0), c.Argument(1), c.Argument(2))
		}))
	}
	must(m.Set("request", func(c goja.FunctionCall) goja.Value {
		return v.request(strings.ToUpper(c.Argument(0).String()), c.Argument(1), c.Argument(2), c.Argument(3))
	}))
	must(m.Set("expectedStatuses", v.expectedStatuses))
	must(m.Set("setResponseCallback", func(c goja.FunctionCall) goja.Value {
		v.callback = v.responseCallback(c.Argument(0))
		return goja.Undefined()
	}))
	return m
}

// expectedStatuses is http.expectedStatuses(200, {min: 400, max: 404}, ...).
func (v *vu) expectedStatuses(call goja.FunctionCall) goja.Value {
	s := &statusSet{}
	integer := func(val goja.Value) int {
		f := val.ToFloat()
		if goja.IsUndefined(val) || f != math.Trunc(f) || math.IsInf(f, 0) {
			v.throw("expectedStatuses: %s is not an integer status", val)
		}
		return int(f)
	}
	for _, a := range call.Arguments {
		if obj, ok := a.(*goja.Object); ok {
			s.ranges = append(s.ranges, [2]int{integer(obj.Get("min")), integer(obj.Get("max"))})
			continue
		}
		n := integer(a)
		s.ranges = append(s.ranges, [2]int{n, n})
	}
	return v.rt.ToValue(s)
}

// responseCallback reads a response callback: null turns http_req_failed off,
// as in k6; only http.expectedStatuses is one (k6 takes no JS function either).
func (v *vu) responseCallback(val goja.Value) *statusSet {
	if val == nil || goja.IsUndefined(val) || goja.IsNull(val) {
		return nil
	}
	s, ok := val.Export().(*statusSet)
	if !ok {
		v.throw("a response callback must be http.expectedStatuses(...) or null, not %s", val)
	}
	return s
}

// params are the request parameters the shim supports; any other is refused.
type params struct {
	headers  map[string]string
	tags     map[string]string
	callback *statusSet
	timeout  time.Duration
}

func (v *vu) params(val goja.Value) params {
	p := params{callback: v.callback, timeout: requestTimeout}
	if val == nil || goja.IsUndefined(val) || goja.IsNull(val) {
		return p
	}
	obj, ok := val.(*goja.Object)
	if !ok {
		v.throw("request params must be an object, not %s", val)
	}
	for _, k := range obj.Keys() {
		switch field := obj.Get(k); k {
		case "headers":
			p.headers = v.stringMap(field, "params.headers")
		case "tags":
			p.tags = v.stringMap(field, "params.tags")
		case "responseCallback":
			p.callback = v.responseCallback(field)
		case "timeout":
			p.timeout = v.duration(field, "params.timeout")
		default:
			v.throw("params.%s is not supported by the k6 shim", k)
		}
	}
	return p
}

// duration reads a k6 duration: a Go-style string ("60s", "1m30s") or milliseconds.
func (v *vu) duration(val goja.Value, what string) time.Duration {
	if s, ok := val.Export().(string); ok {
		d, err := time.ParseDuration(s)
		if err != nil {
			v.throw("%s: %v", what, err)
		}
		return d
	}
	ms := val.ToFloat()
	if math.IsNaN(ms) || ms < 0 {
		v.throw("%s: %s is not a duration", what, val)
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// request sends one request synchronously, as k6's http functions do, records
// http_reqs, http_req_duration and (with a response callback) http_req_failed,
// and returns k6's response object. A transport error is a response with
// status 0 and an error, not an exception, as in k6.
func (v *vu) request(method string, urlVal, bodyVal, paramsVal goja.Value) goja.Value {
	if v.init {
		v.throw("making HTTP requests in the init context is not supported")
	}
	url := urlVal.String()
	var body io.Reader
	switch {
	case bodyVal == nil || goja.IsUndefined(bodyVal) || goja.IsNull(bodyVal):
	default:
		s, ok := bodyVal.Export().(string)
		if !ok {
			v.throw("%s %s: a body that is not a string (a form or binary) is not supported by the k6 shim", method, url)
		}
		body = strings.NewReader(s)
	}
	p := v.params(paramsVal)

	ctx, cancel := context.WithTimeout(v.ctx, p.timeout)
	defer cancel()
	start := time.Now()
	status, header, respBody, err := v.send(ctx, method, url, body, p.headers)
	elapsed := time.Since(start)

	tags := v.sampleTags(map[string]string{"name": url, "method": method, "status": strconv.Itoa(status)})
	if err != nil {
		tags["error"] = err.Error()
	}
	if p.callback != nil {
		tags["expected_response"] = strconv.FormatBool(err == nil && p.callback.expected(status))
	}
	for k, val := range p.tags {
		tags[k] = val
	}
	v.sh.metrics.add("http_reqs", tags, 1)
	v.sh.metrics.add("http_req_duration", tags, float64(elapsed)/float64(time.Millisecond))
	if p.callback != nil {
		v.sh.metrics.add("http_req_failed", tags, boolValue(tags["expected_response"] != "true"))
	}
	if err != nil {
		v.sh.console.printf("VU %d: request failed: %s %s: %v", v.id, method, url, err)
	}
	return v.response(url, status, header, respBody, err, elapsed)
}

// send does the HTTP exchange.
func (v *vu) send(ctx context.Context, method, url string, body io.Reader, headers map[string]string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	for k, val := range headers {
		req.Header.Set(k, val)
	}
	resp, err := v.client.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// response builds k6's response object: status, body, headers (one value per
// canonical name), url, error, error_code, timings.duration, and json().
func (v *vu) response(url string, status int, header http.Header, body []byte, err error, elapsed time.Duration) goja.Value {
	r := v.rt.NewObject()
	must(r.Set("status", status))
	must(r.Set("url", url))
	h := v.rt.NewObject()
	for k, vals := range header {
		must(h.Set(k, strings.Join(vals, ", ")))
	}
	must(r.Set("headers", h))
	timings := v.rt.NewObject()
	must(timings.Set("duration", float64(elapsed)/float64(time.Millisecond)))
	must(r.Set("timings", timings))
	if err != nil {
		must(r.Set("body", goja.Null()))
		must(r.Set("error", err.Error()))
		must(r.Set("error_code", 1000)) // k6's generic error code
	} else {
		must(r.Set("body", string(body)))
		must(r.Set("error", ""))
		must(r.Set("error_code", 0))
	}
	var parsed goja.Value
	must(r.Set("json", func(c goja.FunctionCall) goja.Value {
		sel := c.Argument(0)
		if !goja.IsUndefined(sel) {
			checkSelector(v, sel.String())
		}
		if parsed == nil {
			if err != nil || len(bytes.TrimSpace(body)) == 0 {
				v.throw("json: the response of %s has no body", url)
			}
			val, perr := v.parseJSON(string(body))
			if perr != nil {
				v.throw("json: the response of %s: %v", url, perr)
			}
			parsed = val
		}
		if !goja.IsUndefined(sel) {
			return selectJSON(parsed, sel.String())
		}
		return parsed
	}))
	return r
}

// checkSelector refuses what selectJSON cannot follow: gjson's wildcards,
// queries and modifiers.
func checkSelector(v *vu, sel string) {
	if sel == "" || strings.ContainsAny(sel, `*?#|@\!=<>%()[]{}`) {
		v.throw("json: the selector %q is not supported by the k6 shim", sel)
	}
}

// selectJSON follows a gjson selector of plain dotted keys and indexes
// ("holdToken", "seats.0.id"), which is what k6 scripts mostly use. A missing
// key is undefined, as in k6.
func selectJSON(val goja.Value, sel string) goja.Value {
	for key := range strings.SplitSeq(sel, ".") {
		obj, ok := val.(*goja.Object)
		if !ok {
			return goja.Undefined()
		}
		val = obj.Get(key)
		if val == nil {
			return goja.Undefined()
		}
	}
	return val
}

func TestHTTP(t *testing.T) {
	type seen struct{ auth, contentType, body string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/json" {
			b, _ := io.ReadAll(r.Body)
			got <- seen{r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)}
			w.Header().Set("Retry-After", "3")
			_, _ = io.WriteString(w, `{"a": {"b": [1, {"c": "x"}]}}`)
			return
		}
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.WriteHeader(code)
	}))
	defer srv.Close()
	prog, err := goja.Compile("init.js", "", true)
	if err != nil {
		t.Fatal(err)
	}
	sh := &shared{prog: prog, env: map[string]string{"BASE": srv.URL}, metrics: newRegistry(), console: &console{max: 10}}
	out, err := runJS(t, sh, `
const http = __k6_module("k6/http");
http.setResponseCallback(http.expectedStatuses(200, { min: 400, max: 401 }));
const r = http.post(__ENV.BASE + "/json", JSON.stringify({ x: 1 }), {
  headers: { Authorization: "Bearer t", "Content-Type": "application/json" },
  tags: { name: "j" },
});
[r.status, r.json("a.b.1.c"), typeof r.json("a.nope"), r.json().a.b[0], r.headers["Retry-After"],
 http.get(__ENV.BASE + "/status/401").status,
 http.get(__ENV.BASE + "/status/409").status,
 http.get(__ENV.BASE + "/status/409", { responseCallback: http.expectedStatuses(409) }).status,
 http.get(__ENV.BASE + "/status/500", { responseCallback: null }).status].join(",")`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "200,x,undefined,1,3,401,409,409,500"; out.String() != want {
		t.Errorf("got %s, want %s", out, want)
	}
	if s, want := <-got, (seen{"Bearer t", "application/json", `{"x":1}`}); s != want {
		t.Errorf("server saw %+v, want %+v", s, want)
	}
	// The 500's request had no callback, so it is no sample of http_req_failed.
	if f, _ := sh.metrics.get("http_req_failed", nil); f.count != 4 || f.nonzero != 1 {
		t.Errorf("http_req_failed: %d failed of %d, want 1 (the unexpected 409) of 4", f.nonzero, f.count)
	}
	if f, _ := sh.metrics.get("http_req_failed", map[string]string{"status": "409", "expected_response": "false"}); f.count != 1 {
		t.Errorf("http_req_failed{status:409,expected_response:false}: %d samples, want 1", f.count)
	}
	if n := sh.metrics.by("http_reqs", "name")["j"]; n != 1 {
		t.Errorf("http_reqs{name:j} = %g, want 1", n)
	}
}
