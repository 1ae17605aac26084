// Package loadtest holds the benchmark run behind `make bench`: it starts
// PostgreSQL (a durable server of its own, and the tests' fsync-off one
// beside it) and Redis, seatd on each backend, and seatload against them,
// profiles seatd during the runs, and writes docs/BENCHMARKS.md. The run
// lives in test files built only with the bench tag, so that `make test`
// never runs it; stage.go, which attributes a CPU profile's samples to
// seatd's stages, is plain code with tests of its own that do run there.
// k6/ has the same storm for k6 users.
package loadtest
