package idempotency

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Response is an answer as it is stored and replayed.
type Response struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body"`
}

// replayedHeaders are the response headers worth keeping: those that describe
// the body or tell the client what to do next. Date, connection and length
// headers are the server's to set anew.
var replayedHeaders = []string{"Content-Type", "Location", "Retry-After", "Allow", "Link"}

// Encode serialises r for storage.
func (r Response) Encode() ([]byte, error) {
	kept := http.Header{}
	for _, name := range replayedHeaders {
		if v := r.Header.Values(name); len(v) > 0 {
			kept[name] = v
		}
	}
	r.Header = kept
	return json.Marshal(r)
}

// DecodeResponse reads a stored answer.
func DecodeResponse(b []byte) (Response, error) {
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("decode stored response: %w", err)
	}
	if r.Status < 100 || r.Status > 599 {
		return r, fmt.Errorf("decode stored response: status %d", r.Status)
	}
	return r, nil
}

// Write sends r to w, marked as a replay if replayed.
func (r Response) Write(w http.ResponseWriter, replayed bool) {
	h := w.Header()
	for name, v := range r.Header {
		h[name] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(r.Body)))
	if replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(r.Status)
	w.Write(r.Body)
}

// recorder keeps what a handler answers, so that the answer can be stored before
// the client hears it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) response() Response {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	return Response{Status: status, Header: r.header, Body: r.body.Bytes()}
}
