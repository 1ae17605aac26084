package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"seatmanager/internal/jsonkeys"
)

// Fingerprint identifies a request for the purpose of its key: the same method,
// route and JSON body give the same fingerprint however the body is spaced or
// its object members ordered, so a client that re-serialises a retry is not
// told it reused its key for another request.
func Fingerprint(method, route string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + " " + route + "\n"))
	h.Write(canonicalJSON(body))
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalJSON re-encodes a JSON body with sorted object keys and no spacing,
// keeping numbers as written. A body that is not JSON is used as it is.
func canonicalJSON(body []byte) []byte {
	if c, ok := plainCanonical(body); ok {
		return c
	}
	return reencoded(body)
}

// reencoded is canonicalJSON the long way: decoded, then encoded again.
func reencoded(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return body
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return body
	}
	return buf.Bytes()
}

// plainCanonical is canonicalJSON for the bodies seat changes send, without
// decoding them: one object whose members hold strings, numbers, literals or
// arrays of them, keys in order, nothing escaped and nothing but ASCII. Such
// a body, compacted, is what reencoded would give (a test fuzzes the two
// against each other); any other body reports false and goes the long way.
func plainCanonical(body []byte) ([]byte, bool) {
	var buf bytes.Buffer
	buf.Grow(len(body) + 1)
	if json.Compact(&buf, body) != nil {
		return nil, false
	}
	c := buf.Bytes()
	if bytes.IndexByte(c, '\\') >= 0 || slices.ContainsFunc(c, func(b byte) bool { return b >= 0x80 }) {
		return nil, false
	}
	names, nested, ok := jsonkeys.Top(c)
	if !ok || nested {
		return nil, false // an object inside: its keys may need sorting
	}
	for i := 1; i < len(names); i++ {
		if slices.Compare(names[i-1], names[i]) >= 0 {
			return nil, false // out of order, or named twice
		}
	}
	return append(c, '\n'), true
}
