package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientAddr: the client is the peer, unless the peer is a trusted proxy:
// then the last X-Forwarded-For hop that is not one. A client cannot spoof
// its address by sending X-Forwarded-For itself, and IPv6 clients count per
// /64.
func TestClientAddr(t *testing.T) {
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tt := range []struct {
		name, peer, forwarded, want string
	}{
		{"direct", "203.0.113.7:5000", "", "203.0.113.7"},
		{"direct, spoofing", "203.0.113.7:5000", "198.51.100.1", "203.0.113.7"},
		{"through the balancer", "10.0.0.2:5000", "198.51.100.1", "198.51.100.1"},
		{"through two proxies", "10.0.0.2:5000", "198.51.100.1, 10.0.0.9", "198.51.100.1"},
		{"a spoofed hop before the real client", "10.0.0.2:5000", "192.0.2.66, 198.51.100.1", "198.51.100.1"},
		{"a broken list", "10.0.0.2:5000", "nonsense", "10.0.0.2"},
		{"IPv6 per /64", "[2001:db8:1:2:3:4:5:6]:5000", "", "2001:db8:1:2::/64"},
		{"IPv4 in IPv6", "[::ffff:203.0.113.7]:5000", "", "203.0.113.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			if tt.forwarded != "" {
				r.Header.Set("X-Forwarded-For", tt.forwarded)
			}
			if got := s.clientAddr(r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
