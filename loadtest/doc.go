// Package loadtest holds the benchmark run behind `make bench`: it starts
// PostgreSQL and Redis (as the tests do), seatd on each backend, and seatload
// against them, and writes docs/BENCHMARKS.md. It lives in a test file built
// only with the bench tag, so that `make test` never runs it; k6/ has the same
// storm for k6 users.
package loadtest
