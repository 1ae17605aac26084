package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"seatmanager/idempotency"
	"seatmanager/internal/jsonkeys"
)

// decodeError is a body the API cannot read, with the problem to answer.
type decodeError struct {
	problem problemType
	detail  string
}

func (e *decodeError) Error() string { return e.detail }

// decode reads the JSON object in r's body into v, a pointer to a struct. The
// body must be JSON (or carry no Content-Type), at most maxBytes long, hold
// exactly one object, and name only fields v has, each once and spelled exactly:
// a client that misspells "seatIds" hears about it instead of having its request
// read as empty, and a body that says two things (two "userId"s) is refused
// rather than read as whichever came last.
func decode(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) *decodeError {
	// The common case without the parse, which allocates its parameters.
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &decodeError{problemUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not JSON", ct)}
		}
	}
	// A keyed request's body was read by the idempotency middleware, within
	// the same bound: no need to copy it again.
	body, read := idempotency.Body(r)
	if !read {
		var err error
		if body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes)); err != nil {
			return describeJSONError(err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &decodeError{problemInvalidJSON, "body has data after the JSON object"}
	}
	return checkMembers(body, fieldNames(v))
}

// checkMembers refuses an object member that encoding/json accepted only
// because it matches field names case-insensitively, and a member named twice.
func checkMembers(body []byte, names map[string]bool) *decodeError {
	if members, _, ok := jsonkeys.Top(body); ok {
		for i, m := range members {
			switch {
			case !names[string(m)]:
				return &decodeError{problemInvalidJSON, fmt.Sprintf("unknown field %q (field names are case-sensitive)", m)}
			case slices.ContainsFunc(members[:i], func(o []byte) bool { return bytes.Equal(o, m) }):
				return &decodeError{problemInvalidJSON, fmt.Sprintf("field %q appears more than once", m)}
			}
		}
		return nil
	}
	// Names with escapes in them: read as decoding reads them.
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil // null: nothing to check
	}
	seen := make(map[string]bool, len(names))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return describeJSONError(err)
		}
		name, _ := tok.(string)
		switch {
		case !names[name]:
			return &decodeError{problemInvalidJSON, fmt.Sprintf("unknown field %q (field names are case-sensitive)", name)}
		case seen[name]:
			return &decodeError{problemInvalidJSON, fmt.Sprintf("field %q appears more than once", name)}
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return describeJSONError(err)
		}
	}
	return nil
}

var fieldNameCache sync.Map // reflect.Type → map[string]bool

// fieldNames returns the JSON member names of the struct v points to.
func fieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	if names, ok := fieldNameCache.Load(t); ok {
		return names.(map[string]bool)
	}
	names := map[string]bool{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if name != "-" && f.IsExported() {
			names[name] = true
		}
	}
	fieldNameCache.Store(t, names)
	return names
}

func describeJSONError(err error) *decodeError {
	var (
		syntax    *json.SyntaxError
		typ       *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		invalidJS = func(format string, args ...any) *decodeError {
			return &decodeError{problemInvalidJSON, fmt.Sprintf(format, args...)}
		}
	)
	switch {
	case errors.As(err, &tooLarge):
		return &decodeError{problemBodyTooLarge, fmt.Sprintf("body exceeds %d bytes", tooLarge.Limit)}
	case errors.As(err, &syntax):
		return invalidJS("body is not valid JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return invalidJS("body must be a JSON object, not %s", typ.Value)
		}
		return invalidJS("field %s must be %s, not %s", typ.Field, jsonTypeName(typ.Type.String()), typ.Value)
	case errors.Is(err, io.EOF):
		return invalidJS("body is empty; want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidJS("body ends in the middle of a JSON value")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this; the prefix is documented behaviour.
		return invalidJS("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return invalidJS("body cannot be read as JSON: %v", err)
	}
}

// jsonTypeName says in JSON's words what a Go type of a request field expects.
func jsonTypeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array of " + strings.TrimPrefix(jsonTypeName(goType[2:]), "a ") + "s"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	default:
		return "an object"
	}
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, "application/json", v)
}

// jsonResponse is the answer of status with v as its JSON body: what writeJSON
// sends, in the form idempotency stores.
func jsonResponse(status int, v any) (idempotency.Response, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return idempotency.Response{}, err
	}
	return idempotency.Response{
		Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: buf.Bytes(),
	}, nil
}

// writeBody encodes v before writing anything, so that an encoding failure can
// still become a clean 500.
func writeBody(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"status":500,"title":"Internal error","type":"/problems/internal"}`+"\n")
		return
	}
	b = append(b, '\n') // as json.Encoder ends a value
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
