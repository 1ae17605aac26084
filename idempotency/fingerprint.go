package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
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
	if len(c) < 2 || c[0] != '{' || bytes.IndexByte(c, '\\') >= 0 {
		return nil, false
	}
	for _, b := range c {
		if b >= 0x80 {
			return nil, false
		}
	}
	var prev []byte
	depth, afterValue := 0, false
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b == '{':
			if depth > 0 {
				return nil, false // an object inside: its keys may need sorting
			}
			depth++
		case b == '[':
			depth++
		case b == '}' || b == ']':
			depth--
		case b == ',':
			afterValue = false
		case b == '"':
			end := i + 1 + bytes.IndexByte(c[i+1:], '"')
			if depth == 1 && !afterValue {
				// A key of the top object (its values come after a colon).
				key := c[i+1 : end]
				if prev != nil && slices.Compare(prev, key) >= 0 {
					return nil, false // out of order, or named twice
				}
				prev = key
			}
			i = end
		case b == ':':
			afterValue = true
		}
	}
	return append(c, '\n'), true
}
