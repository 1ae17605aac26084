#!/usr/bin/env bash
# install-deps.sh installs the system packages the tests need and a fresh
# Debian machine lacks: PostgreSQL (initdb, postgres), Redis (redis-server)
# and Chromium (the browser test of the page). internal/testenv starts its
# own servers from these binaries, so the packages' services are kept from
# starting.
#
# `make test` runs it every time, so when everything is present it only
# looks and exits.
set -euo pipefail

# have_postgres mirrors where internal/testenv looks for the binaries.
have_postgres() {
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ||
		{ command -v initdb && command -v postgres; } >/dev/null
}

missing=()
have_postgres || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
# Further commands named as arguments (make cluster: haproxy), each from the
# Debian package of the same name.
for extra in "$@"; do
	command -v "$extra" >/dev/null || missing+=("$extra")
done
((${#missing[@]} == 0)) && exit 0

if ((EUID != 0)); then
	echo "install-deps: the tests need ${missing[*]}; install with:" >&2
	echo "  sudo apt-get install ${missing[*]}" >&2
	exit 1
fi

# Debian's maintainer scripts ask policy-rc.d before starting a service;
# 101 means "not allowed". Leave an existing policy alone.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
	trap 'rm -f "$policy"' EXIT
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
