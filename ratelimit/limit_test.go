package ratelimit

import (
	"strings"
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in   string
		want Limit
	}{
		{"20/s", Limit{20, time.Second}},
		{"600/m", Limit{600, time.Minute}},
		{"1/h", Limit{1, time.Hour}},
		{"1000000/s", Limit{1_000_000, time.Second}},
		{"007/m", Limit{7, time.Minute}},
		{"off", Limit{}},
		{"0", Limit{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLimit(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseLimit(%q): got %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseLimitErrors(t *testing.T) {
	for _, in := range []string{
		"", "20", "20/", "/s", "20/d", "20/sec", "20/S", "0/s", "-5/s", "+5/s", "1000001/s",
		"99999999999999999999/s", " 20/s", "20/s ", "2 0/s", "20/s/s", "OFF", "none", "1.5/s", "0x10/s",
	} {
		t.Run(in, func(t *testing.T) {
			got, err := ParseLimit(in)
			if err == nil {
				t.Fatalf("ParseLimit(%q): got %+v, nil, want an error", in, got)
			}
			// The operator must learn from the message what to write instead.
			if msg := err.Error(); !strings.Contains(msg, "N/s, N/m or N/h") || !strings.Contains(msg, "off") {
				t.Errorf("ParseLimit(%q): got error %q, want it to name the format", in, msg)
			}
		})
	}
}

func TestLimitString(t *testing.T) {
	tests := []struct {
		in   Limit
		want string
	}{
		{Limit{20, time.Second}, "20/s"},
		{Limit{600, time.Minute}, "600/m"},
		{Limit{3, time.Hour}, "3/h"},
		{Limit{}, "off"},
		{Limit{Period: time.Second}, "off"},
		{Limit{5, 500 * time.Millisecond}, "5/500ms"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%+v.String(): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLimitValidate(t *testing.T) {
	for _, l := range []Limit{{}, {Period: time.Second}, {1, time.Nanosecond}, {20, time.Second}} {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v.Validate(): got %v, want nil", l, err)
		}
	}
	for _, l := range []Limit{{-1, time.Second}, {5, 0}, {5, -time.Second}} {
		if err := l.Validate(); err == nil {
			t.Errorf("%+v.Validate(): got nil, want an error", l)
		}
	}
}

// FuzzParseLimit: whatever a config holds, ParseLimit either refuses it or
// returns a valid limit within MaxRate that String writes back in a form it
// reads as the same limit.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"20/s", "600/m", "1/h", "off", "0", "0/s", "1000001/s", "-1/s", "20/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLimit(s)
		if err != nil {
			return
		}
		if err := l.Validate(); err != nil || l.Rate > MaxRate {
			t.Fatalf("ParseLimit(%q) = %+v: invalid (%v)", s, l, err)
		}
		back, err := ParseLimit(l.String())
		if err != nil || back != l {
			t.Fatalf("ParseLimit(%q) = %+v, String %q, read back as %+v, %v", s, l, l.String(), back, err)
		}
	})
}
