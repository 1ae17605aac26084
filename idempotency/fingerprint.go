package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
