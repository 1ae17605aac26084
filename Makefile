# Movie Seat Manager. `make help` lists the targets.

GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TESTFLAGS   ?= -race -shuffle=on -count=1 -timeout 30m
# BENCHFLAGS go to make bench's harness: -quick (every path in minutes, the
# report in the temp dir), -parts scale,memory, -steady 5s ... (go test -tags
# bench ./loadtest -args -h lists them).
BENCHFLAGS  ?=

.DEFAULT_GOAL := help

.PHONY: help run deps lint test bench loadtest cluster

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

run: ## run seatd on the embedded default (SQLite, in-process gate, demo shows) at :8080
	$(GO) run ./cmd/seatd

deps: ## install PostgreSQL, Redis and Chromium with apt when missing (the tests start their own servers)
	@./scripts/install-deps.sh

lint: ## gofmt, go vet and staticcheck
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags bench ./loadtest
	$(GO) run $(STATICCHECK) -tags bench ./...

test: deps lint ## install what is missing, lint, then run every test (unit, PostgreSQL, Redis, fuzz seeds) with -race
	$(GO) test $(TESTFLAGS) ./...

bench: deps ## measure (about 15 min): calibrate, storm, steady, scale, memory on each backend, Go benchmarks; writes docs/BENCHMARKS.md
	$(GO) test -tags bench -run TestBenchmarks -count=1 -timeout 45m -v ./loadtest $(if $(BENCHFLAGS),-args $(BENCHFLAGS))

cluster: ## the production topology from local binaries on loopback (PostgreSQL, Redis primary, replica, 3 sentinels, 2 seatd, HAProxy); Ctrl-C stops it
	@./scripts/install-deps.sh haproxy
	@bin=$$(mktemp -d) && $(GO) build -o $$bin/seatd ./cmd/seatd && $(GO) run ./cmd/seatcluster -seatd $$bin/seatd; rm -rf $$bin

loadtest: ## storm and steady against a seatd on the embedded default, started here
	@./scripts/loadtest.sh
