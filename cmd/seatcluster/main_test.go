package main

import (
	"os"
	"strings"
	"testing"
)

// TestBalancerConfig: the local balancer is deploy/haproxy.cfg with the
// local instances in place of the compose services, on the given address.
func TestBalancerConfig(t *testing.T) {
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	b, err := balancerConfig("127.0.0.1:9999", []string{"127.0.0.1:1001", "127.0.0.1:1002"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, want := range []string{"bind 127.0.0.1:9999", "server seatd-1 127.0.0.1:1001 check", "server seatd-2 127.0.0.1:1002 check", "option httpchk GET /readyz", "timeout tunnel"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "seatd-1:8080") || strings.Contains(cfg, "bind :8080") {
		t.Errorf("config keeps the compose addresses:\n%s", cfg)
	}
}
