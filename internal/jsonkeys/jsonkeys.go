// Package jsonkeys reads the member names of a JSON object without decoding
// it: what the idempotency fingerprint and the request decoder need to know
// of a body, at a fraction of what encoding/json's tokens cost.
package jsonkeys

import "bytes"

// Top returns the names of the members of the JSON object b, in order, as
// they are written between their quotes, and whether any member holds an
// object (at any depth). b must be valid JSON (json.Valid); ok is false if it
// is not an object, or if a name has an escape or a byte beyond ASCII in it,
// which only decoding reads as it should.
func Top(b []byte) (names [][]byte, nested, ok bool) {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return nil, false, false
	}
	depth, inValue := 0, false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			if depth > 0 {
				nested = true
			}
			depth++
		case '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				inValue = false
			}
		case ':':
			if depth == 1 {
				inValue = true
			}
		case '"':
			end := closingQuote(b, i+1)
			if end < 0 {
				return nil, false, false
			}
			if depth == 1 && !inValue {
				name := b[i+1 : end]
				if !plain(name) {
					return nil, false, false
				}
				names = append(names, name)
			}
			i = end
		}
	}
	return names, nested, true
}

// closingQuote returns the index of the quote that ends the string starting
// at b[from], skipping escaped characters, or -1.
func closingQuote(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// plain: a name of ASCII without escapes, which reads as it is written.
func plain(name []byte) bool {
	for _, c := range name {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}
