package idempotency

import (
	"errors"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen)
	for _, tt := range []struct {
		name   string
		values []string
		want   string
		err    error
	}{
		{"token", []string{"abc-123"}, "abc-123", nil},
		{"uuid", []string{"8e03978e-40d5-43e8-bc93-6894a57f9324"}, "8e03978e-40d5-43e8-bc93-6894a57f9324", nil},
		{"sf-string", []string{`"abc-123"`}, "abc-123", nil},
		{"sf-string with space and escapes", []string{`"a b\"c\\d"`}, `a b"c\d`, nil},
		{"visible punctuation", []string{"!#$%&'*+-.^_`|~"}, "!#$%&'*+-.^_`|~", nil},
		{"longest", []string{long}, long, nil},
		{"missing", nil, "", ErrKeyMissing},
		{"empty", []string{""}, "", ErrKeyMissing},
		{"two headers", []string{"a", "b"}, "", ErrKeyInvalid},
		{"too long", []string{long + "k"}, "", ErrKeyInvalid},
		{"space inside token", []string{"a b"}, "", ErrKeyInvalid},
		{"non-ASCII", []string{"clé"}, "", ErrKeyInvalid},
		{"control", []string{"a\tb"}, "", ErrKeyInvalid},
		{"empty sf-string", []string{`""`}, "", ErrKeyInvalid},
		{"unterminated", []string{`"abc`}, "", ErrKeyInvalid},
		{"lone quote", []string{`"`}, "", ErrKeyInvalid},
		{"bad escape", []string{`"a\nb"`}, "", ErrKeyInvalid},
		{"trailing backslash", []string{`"ab\"`}, "", ErrKeyInvalid},
		{"inner quote", []string{`"a"b"`}, "", ErrKeyInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.values)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("ParseKey(%q): got (%q, %v), want (%q, %v)", tt.values, got, err, tt.want, tt.err)
			}
		})
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"abc", `"abc"`, `"a\"b"`, "", `"`, `\`, strings.Repeat("x", 256), "ключ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		key, err := ParseKey([]string{v})
		if err != nil {
			return
		}
		if len(key) == 0 || len(key) > MaxKeyLen {
			t.Fatalf("ParseKey(%q) = %q: length %d out of range", v, key, len(key))
		}
		for i := range len(key) {
			if key[i] < 0x20 || key[i] > 0x7e {
				t.Fatalf("ParseKey(%q) = %q: byte %#x is not printable ASCII", v, key, key[i])
			}
		}
		// The quoted form of a key names the same key.
		quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(key) + `"`
		if again, err := ParseKey([]string{quoted}); err != nil || again != key {
			t.Fatalf("ParseKey(%q) = (%q, %v), want %q", quoted, again, err, key)
		}
	})
}

func TestFingerprint(t *testing.T) {
	base := Fingerprint("POST", "POST /api/seats/hold-bulk", []byte(`{"seatIds":["a","b"],"userId":"u"}`))
	for name, tt := range map[string]struct {
		method, route, body string
		same                bool
	}{
		"reordered and spaced": {"POST", "POST /api/seats/hold-bulk", "{ \"userId\": \"u\",\n \"seatIds\": [\"a\", \"b\"] }", true},
		"escaped the same":     {"POST", "POST /api/seats/hold-bulk", `{"seatIds":["\u0061","b"],"userId":"u"}`, true},
		"other seats order":    {"POST", "POST /api/seats/hold-bulk", `{"seatIds":["b","a"],"userId":"u"}`, false},
		"other user":           {"POST", "POST /api/seats/hold-bulk", `{"seatIds":["a","b"],"userId":"v"}`, false},
		"other route":          {"POST", "POST /api/seats/book-bulk", `{"seatIds":["a","b"],"userId":"u"}`, false},
		"other method":         {"PUT", "POST /api/seats/hold-bulk", `{"seatIds":["a","b"],"userId":"u"}`, false},
		"extra member":         {"POST", "POST /api/seats/hold-bulk", `{"seatIds":["a","b"],"userId":"u","x":1}`, false},
	} {
		got := Fingerprint(tt.method, tt.route, []byte(tt.body))
		if (got == base) != tt.same {
			t.Errorf("%s: same fingerprint = %v, want %v", name, got == base, tt.same)
		}
	}
	// Numbers keep their written form: 1 and 1.0 are different requests.
	if Fingerprint("POST", "r", []byte(`{"n":1}`)) == Fingerprint("POST", "r", []byte(`{"n":1.0}`)) {
		t.Error("1 and 1.0 share a fingerprint")
	}
	// A body that is not JSON is fingerprinted as it is.
	if Fingerprint("POST", "r", []byte(`{`)) == Fingerprint("POST", "r", []byte(`{ `)) {
		t.Error("two different invalid bodies share a fingerprint")
	}
}

// FuzzFingerprint: the canonical form is a fixed point, and its short way
// agrees with decoding and encoding again.
func FuzzFingerprint(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1,2]}`, `[]`, `null`, `{`, `{"a":"\u00e9"}`, ``,
		`{"seatIds":["01a23816-5c46-701a-a0c1-68cad69cb445"],"userId":"u"}`, ` { "b" : 1 , "a" : [ "x" , 1.50 , true ] } `,
		`{"a":1,"a":2}`, `{"a":{"c":1,"b":2}}`, `{"a":[{"b":1}]}`, `{"a":"<&>"}`, `{"a":1e5,"b":-0}`, `{"":0}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		// The short way gives what the long way would, where it goes.
		if short, ok := plainCanonical([]byte(body)); ok {
			if long := reencoded([]byte(body)); string(short) != string(long) {
				t.Fatalf("canonical form of %q: plainCanonical %q, reencoded %q", body, short, long)
			}
		}
		c := canonicalJSON([]byte(body))
		// Canonical JSON is a fixed point.
		if again := canonicalJSON(c); string(again) != string(c) {
			t.Fatalf("canonicalJSON not idempotent: %q → %q → %q", body, c, again)
		}
		_ = Fingerprint("POST", "r", []byte(body))
	})
}

func TestResponseRoundTrip(t *testing.T) {
	in := Response{Status: 409, Header: map[string][]string{
		"Content-Type": {"application/problem+json"}, "Date": {"today"}, "Retry-After": {"3"},
	}, Body: []byte{0, '{', 255}}
	b, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != 409 || string(out.Body) != string(in.Body) || out.Header.Get("Content-Type") != "application/problem+json" || out.Header.Get("Retry-After") != "3" {
		t.Errorf("got %+v, want %+v", out, in)
	}
	if out.Header.Get("Date") != "" {
		t.Error("Date was kept; the server must set it anew on replay")
	}
	for _, bad := range []string{``, "{}", "42\n\n", "200\nno colon\n\n", "200\nContent-Type: x\n"} {
		if _, err := DecodeResponse([]byte(bad)); err == nil {
			t.Errorf("DecodeResponse(%q): got nil error", bad)
		}
	}
}

func BenchmarkFingerprint(b *testing.B) {
	body := []byte(`{"seatIds":["01a23816-5c46-701a-a0c1-68cad69cb445","01a23816-5c46-701a-a0c1-68cad69cb446"]}`)
	for b.Loop() {
		Fingerprint("POST", "/api/seats/hold-bulk", body)
	}
}
