#!/usr/bin/env bash
# loadtest.sh: `make loadtest`. Starts seatd on the embedded default (a fresh
# SQLite file, the in-process gate, enough demo shows for steady) on a free
# loopback port, runs seatload storm and steady against it, and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

go build -o "$dir/seatd" ./cmd/seatd
go build -o "$dir/seatload" ./cmd/seatload

# seatd's first line on stdout is the URL it serves at; its log goes to a file.
# One load generator on one address is a flood by design: steady makes thousands
# of changes a second for a few users, so the rate limits per user and address
# are off. The storm's buyers open guest sessions, as the page does; steady's
# users sign their tokens with the secret seatd is given, to spend no time on it.
secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
SEATD_DATABASE_URL="$dir/seatd.db" SEATD_DEMO_SHOWS=512 SEATD_ADDR=127.0.0.1:0 \
	SEATD_AUTH_SECRET="$secret" SEATD_RATE_USER=off SEATD_RATE_ADDRESS=off \
	"$dir/seatd" >"$dir/seatd.out" 2>"$dir/seatd.log" &
pid=$!

for _ in $(seq 1 300); do
	url=$(head -n 1 "$dir/seatd.out")
	[ -n "$url" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$dir/seatd.log" >&2; exit 1; }
	sleep 0.1
done
[ -n "${url:-}" ] || { echo "loadtest: seatd did not start" >&2; cat "$dir/seatd.log" >&2; exit 1; }
url=${url%/}
echo "loadtest: seatd on $url (SQLite, in-process gate)"

"$dir/seatload" storm -url "$url" -vus 500 -seats 10 -rounds 3
# The secret goes by environment, not a flag that ps would show.
SEATLOAD_AUTH_SECRET="$secret" "$dir/seatload" steady -url "$url" -c 64 -duration 15s
