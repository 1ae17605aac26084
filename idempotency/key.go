// Package idempotency makes state-changing POSTs exactly-once, following the IETF
// httpapi Idempotency-Key draft: a retry of a key gets the first answer again,
// byte for byte, and the effect happens once.
//
// Receipts (the answers) live in the database and are the guarantee; seat
// changes write theirs in their own transaction. Markers (in Redis, or in
// process) only speed things up: they tell a duplicate that its original is still
// running, and cache finished answers.
package idempotency

import (
	"errors"
	"fmt"
	"strings"
)

// MaxKeyLen is the longest key accepted.
const MaxKeyLen = 255

// Errors of the key itself, for the HTTP layer to map to problems.
var (
	// ErrBodyUnreadable: the request's body could not be read to its end.
	ErrBodyUnreadable = errors.New("the request body could not be read to its end")
	ErrKeyMissing     = errors.New("Idempotency-Key header is required on this request")
	ErrKeyInvalid     = errors.New("Idempotency-Key must be 1 to 255 visible ASCII characters, bare or as a quoted string")
	// ErrKeyInUse: the first request with this key is still running; retry later.
	ErrKeyInUse = errors.New("a request with this Idempotency-Key is still being processed")
	// ErrKeyReused: the key was used before for a different request.
	ErrKeyReused = errors.New("this Idempotency-Key was used for a different request")
	// ErrNotRecorded: the request's answer could not be stored, so it is not
	// given: a retry could not get it again. Retrying is safe.
	ErrNotRecorded = errors.New("the answer could not be recorded; retry the request with the same key")
)

// KeyError is ErrKeyMissing or ErrKeyInvalid, with what exactly is wrong.
type KeyError struct {
	Kind   error
	Detail string // fit for the client
}

func (e *KeyError) Error() string { return e.Detail }

// Unwrap lets errors.Is match Kind.
func (e *KeyError) Unwrap() error { return e.Kind }

// ParseKey returns the key that the Idempotency-Key header values carry. The
// draft defines the value as a structured-field string ("abc"); plain tokens
// (abc) are accepted as well, since that is what most clients send. Both name
// the same key.
func ParseKey(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", ErrKeyMissing
	case 1:
	default:
		return "", &KeyError{ErrKeyInvalid, fmt.Sprintf("send one Idempotency-Key header, not %d", len(values))}
	}
	v := values[0]
	if v == "" {
		return "", &KeyError{ErrKeyMissing, "the Idempotency-Key header is empty; if a command was to make its value (uuidgen, say), it failed"}
	}
	key, ok := v, true
	if v[0] == '"' {
		key, ok = unquote(v)
	} else {
		for i := range len(v) {
			if v[i] < 0x21 || v[i] > 0x7e {
				ok = false
			}
		}
	}
	switch {
	case !ok || len(key) == 0:
		return "", ErrKeyInvalid
	case len(key) > MaxKeyLen:
		return "", &KeyError{ErrKeyInvalid, fmt.Sprintf("Idempotency-Key is %d characters long; at most %d are allowed", len(key), MaxKeyLen)}
	}
	return key, nil
}

// unquote decodes an RFC 8941 sf-string: printable ASCII between double quotes,
// where only \" and \\ are escapes.
func unquote(v string) (string, bool) {
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	inner := v[1 : len(v)-1]
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case c == '\\':
			i++
			if i == len(inner) || (inner[i] != '"' && inner[i] != '\\') {
				return "", false
			}
			b.WriteByte(inner[i])
		case c == '"', c < 0x20, c > 0x7e:
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}
