// Package deploy holds the container topology (Dockerfile, docker-compose.yml,
// haproxy.cfg). No Docker engine runs where the tests do, so the test reads
// the files and checks what one `docker compose up` depends on; where the
// compose tool exists, it also validates the file with `docker compose config`.
package deploy

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type compose struct {
	Services map[string]service
	Volumes  map[string]any
}

type service struct {
	Image       string
	Build       map[string]string
	Command     any // a list, or a string
	Environment map[string]string
	Ports       []string
	Volumes     []string
	DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
	Healthcheck map[string]any
}

func (s service) command() string {
	switch c := s.Command.(type) {
	case string:
		return c
	case []any:
		var parts []string
		for _, p := range c {
			parts = append(parts, p.(string))
		}
		return strings.Join(parts, " ")
	}
	return ""
}

func load(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func TestComposeTopology(t *testing.T) {
	c := load(t)
	for _, name := range []string{"lb", "seatd-1", "seatd-2", "postgres", "redis-primary", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %q", name)
		}
	}
	if lb := c.Services["lb"]; !slices.Contains(lb.Ports, "8080:8080") {
		t.Errorf("the balancer publishes %v; want 8080:8080, the one URL", lb.Ports)
	}
	// The sentinels monitor the primary by the name seatd asks for, with quorum 2.
	monitor := regexp.MustCompile(`sentinel monitor (\S+) redis-primary 6379 2\b`)
	for _, name := range []string{"sentinel-1", "sentinel-2", "sentinel-3"} {
		m := monitor.FindStringSubmatch(c.Services[name].command())
		if m == nil {
			t.Errorf("%s: no 'sentinel monitor … redis-primary 6379 2' in %q", name, c.Services[name].command())
			continue
		}
		for _, sd := range []string{"seatd-1", "seatd-2"} {
			env := c.Services[sd].Environment
			if env["SEATD_REDIS_MASTER"] != m[1] {
				t.Errorf("%s asks for master %q; the sentinels monitor %q", sd, env["SEATD_REDIS_MASTER"], m[1])
			}
			if !strings.Contains(env["SEATD_REDIS_SENTINELS"], name+":26379") {
				t.Errorf("%s's SEATD_REDIS_SENTINELS %q leaves out %s", sd, env["SEATD_REDIS_SENTINELS"], name)
			}
		}
	}
	for _, sd := range []string{"seatd-1", "seatd-2"} {
		s := c.Services[sd]
		if s.Build["dockerfile"] != "deploy/Dockerfile" || !strings.HasPrefix(s.Environment["SEATD_DATABASE_URL"], "postgres://") {
			t.Errorf("%s: build %v, database %q; want deploy/Dockerfile and PostgreSQL", sd, s.Build, s.Environment["SEATD_DATABASE_URL"])
		}
		if _, set := s.Environment["SEATD_REDIS_URL"]; set {
			t.Errorf("%s sets SEATD_REDIS_URL beside the sentinels; seatd refuses both", sd)
		}
		for _, dep := range []string{"postgres", "sentinel-1"} {
			if s.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("%s starts before %s is healthy", sd, dep)
			}
		}
	}
	// Redis persists (AOF, fsync every second) and publishes expiries, on the
	// replica too: the setting is not replicated, and the replica may be promoted.
	for _, name := range []string{"redis-primary", "redis-replica"} {
		cmd := c.Services[name].command()
		for _, want := range []string{"--appendonly yes", "--appendfsync everysec", "--notify-keyspace-events Ex"} {
			if !strings.Contains(cmd, want) {
				t.Errorf("%s: command %q lacks %q", name, cmd, want)
			}
		}
		if c.Services[name].Healthcheck == nil {
			t.Errorf("%s has no health check", name)
		}
	}
	if !strings.Contains(c.Services["redis-replica"].command(), "--replicaof redis-primary 6379") {
		t.Error("redis-replica does not replicate redis-primary")
	}
	if pg := c.Services["postgres"]; len(pg.Volumes) == 0 || pg.Healthcheck == nil {
		t.Errorf("postgres: volumes %v, health check %v; want a volume and a check", pg.Volumes, pg.Healthcheck)
	}
	if _, ok := c.Volumes["pgdata"]; !ok {
		t.Error("no pgdata volume")
	}
}

// TestBalancerReachesEverySeatd: haproxy.cfg names each seatd service, checks
// /readyz, and keeps WebSocket tunnels open longer than seatd's pings.
func TestBalancerReachesEverySeatd(t *testing.T) {
	b, err := os.ReadFile("haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, want := range []string{"server seatd-1 seatd-1:8080 check", "server seatd-2 seatd-2:8080 check", "option httpchk GET /readyz", "timeout tunnel", "bind :8080"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("haproxy.cfg lacks %q", want)
		}
	}
}

// TestDockerfile: a static, non-root binary with a health check on /readyz.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "USER nonroot", "HEALTHCHECK", "/readyz", "./cmd/seatd ", "./cmd/seatd-healthcheck"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Count("\n"+df, "\nFROM ") < 2 {
		t.Error("Dockerfile is not multi-stage")
	}
}

// TestComposeConfig runs `docker compose config` where the tool exists.
func TestComposeConfig(t *testing.T) {
	if exec.Command("docker", "compose", "version").Run() != nil {
		t.Log("no docker compose here: the file was checked by parsing alone (TestComposeTopology)")
		return
	}
	out, err := exec.Command("docker", "compose", "-f", "docker-compose.yml", "config", "-q").CombinedOutput()
	if err != nil {
		t.Errorf("docker compose config: %v\n%s", err, out)
	}
}
