package jsonkeys

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// decodedNames reads the member names of a JSON object the long way, with
// encoding/json's tokens, and whether a member holds an object.
func decodedNames(b []byte) (names []string, nested, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false, false
		}
		names = append(names, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false, false
		}
		nested = nested || bytes.ContainsRune(v, '{') && containsObject(v)
	}
	return names, nested, true
}

// containsObject reports whether a JSON value has an object in it.
func containsObject(v json.RawMessage) bool {
	var x any
	json.Unmarshal(v, &x)
	var walk func(any) bool
	walk = func(x any) bool {
		switch x := x.(type) {
		case map[string]any:
			return true
		case []any:
			return slices.ContainsFunc(x, walk)
		}
		return false
	}
	return walk(x)
}

// FuzzTop: on every valid JSON object whose names are plain, Top reads the
// names and nesting that decoding it reads.
func FuzzTop(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1,"x,\"y:"],"c":{"d":2}}`, ` { "seatIds" : [ "a" ] } `, `{}`, `[]`, `"s"`,
		`{"a\"b":1}`, `{"a":"}","b":"{"}`, `{"a":[{"b":1}],"c":null}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		if !json.Valid(b) {
			return
		}
		names, nested, ok := Top(b)
		want, wantNested, wantOK := decodedNames(b)
		if !wantOK {
			if ok {
				t.Fatalf("Top(%q) read names of what is not an object", s)
			}
			return
		}
		if !ok {
			if !slices.ContainsFunc(want, func(n string) bool { return !plain([]byte(n)) }) && bytes.IndexByte(b, '\\') < 0 {
				t.Fatalf("Top(%q) gave up on an object of plain names", s)
			}
			return
		}
		got := make([]string, len(names))
		for i, n := range names {
			got[i] = string(n)
		}
		if !slices.Equal(got, want) || nested != wantNested {
			t.Fatalf("Top(%q) = %q, nested %v; want %q, nested %v", s, got, nested, want, wantNested)
		}
	})
}
