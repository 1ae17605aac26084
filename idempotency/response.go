package idempotency

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Response is an answer as it is stored and replayed.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// replayedHeaders are the response headers worth keeping: those that describe
// the body or tell the client what to do next. Date, connection and length
// headers are the server's to set anew.
var replayedHeaders = []string{"Content-Type", "Location", "Retry-After", "Allow", "Link"}

// Encode serialises r for storage, in the shape of an HTTP/1 response without
// its status text: "409\n", a "Name: value\n" line per kept header, "\n", the
// body. Every keyed request's answer is encoded, and most are decoded again to
// be sent, so the format is one a reader can split without a parser.
func (r Response) Encode() ([]byte, error) {
	if r.Status < 100 || r.Status > 599 {
		return nil, fmt.Errorf("encode response: status %d", r.Status)
	}
	var b bytes.Buffer
	b.Grow(len(r.Body) + 64)
	b.WriteString(strconv.Itoa(r.Status))
	b.WriteByte('\n')
	for _, name := range replayedHeaders {
		for _, v := range r.Header.Values(name) {
			if strings.ContainsAny(v, "\r\n") {
				return nil, fmt.Errorf("encode response: header %s has a line break", name)
			}
			b.WriteString(name + ": " + v + "\n")
		}
	}
	b.WriteByte('\n')
	b.Write(r.Body)
	return b.Bytes(), nil
}

// DecodeResponse reads a stored answer.
func DecodeResponse(b []byte) (Response, error) {
	status, rest, ok := bytes.Cut(b, []byte("\n"))
	code, err := strconv.Atoi(string(status))
	if !ok || err != nil || code < 100 || code > 599 {
		return Response{}, fmt.Errorf("decode stored response: bad status line %.20q", status)
	}
	r := Response{Status: code, Header: http.Header{}}
	for {
		line, more, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return Response{}, fmt.Errorf("decode stored response: no end of headers")
		}
		rest = more
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			return Response{}, fmt.Errorf("decode stored response: bad header line %.40q", line)
		}
		r.Header.Add(string(name), string(value))
	}
	r.Body = rest
	return r, nil
}

// writeKept sends r as a replay of its stored form would: with only the
// headers Encode keeps, and not marked as a replay.
func (r Response) writeKept(w http.ResponseWriter) {
	h := w.Header()
	for _, name := range replayedHeaders {
		if v := r.Header.Values(name); len(v) > 0 {
			h[name] = v
		}
	}
	r.Header = nil
	r.Write(w, false)
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
