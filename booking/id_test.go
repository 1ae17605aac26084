package booking_test

import (
	"strings"
	"testing"

	"seatmanager/booking"
)

func TestParseID(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"0192f0c4-3b8e-7a1c-9d2e-1f3a4b5c6d7e", "0192f0c4-3b8e-7a1c-9d2e-1f3a4b5c6d7e", true},
		{"0192F0C4-3B8E-7A1C-9D2E-1F3A4B5C6D7E", "0192f0c4-3b8e-7a1c-9d2e-1f3a4b5c6d7e", true},
		{"0192f0c43b8e7a1c9d2e1f3a4b5c6d7e", "", false},
		{"{0192f0c4-3b8e-7a1c-9d2e-1f3a4b5c6d7e}", "", false},
		{"0192f0c4-3b8e-7a1c-9d2e-1f3a4b5c6d7g", "", false},
		{"0192f0c4-3b8e-7a1c-9d2e_1f3a4b5c6d7e", "", false},
		{"", "", false},
	} {
		got, ok := booking.ParseID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseID(%q): got (%q, %v), want (%q, %v)", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		id := booking.NewID()
		if canon, ok := booking.ParseID(id); !ok || canon != id {
			t.Fatalf("NewID gave %q, which is not a canonical UUID", id)
		}
		if id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("NewID gave %q, want version 7, variant 10", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		// Time-ordered to the millisecond: the first 12 hex digits never go back.
		if id[:13] < prev {
			t.Fatalf("NewID went back in time: %q after %q", id, prev)
		}
		prev = id[:13]
	}
}

func TestNameID(t *testing.T) {
	// The RFC 9562 appendix A.4 example: "www.example.com" in the DNS namespace.
	got := booking.NameID("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com")
	if want := "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0192f0c4-3b8e-7a1c-9d2e-1f3a4b5c6d7e", "", "x", strings.Repeat("-", 36), "0192F0C4-3B8E-7A1C-9D2E-1F3A4B5C6D7E"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := booking.ParseID(s)
		if !ok {
			return
		}
		if !strings.EqualFold(id, s) || id != strings.ToLower(id) {
			t.Fatalf("ParseID(%q) = %q: not the same UUID in lower case", s, id)
		}
		if again, ok := booking.ParseID(id); !ok || again != id {
			t.Fatalf("ParseID is not idempotent on %q", id)
		}
	})
}

func TestValidUserID(t *testing.T) {
	for in, want := range map[string]bool{
		"user_1": true, "alice@example.com": true, "guest:42": true, "a.b-c": true,
		strings.Repeat("u", 128): true, strings.Repeat("u", 129): false,
		"": false, "a b": false, "ünïcode": false, "x/y": false, "<script>": false, "a\x00": false,
	} {
		if got := booking.ValidUserID(in); got != want {
			t.Errorf("ValidUserID(%q): got %v, want %v", in, got, want)
		}
	}
}
