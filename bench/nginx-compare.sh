#!/bin/sh
# The gateway beside nginx, in the same run: the load generator starts the
# simulated partners and the real `gateway serve` (release build), drives it
# closed-loop over mutual TLS, then starts nginx (Debian's package) as an
# HTTPS reverse proxy with client-certificate verification in front of the
# simulated Beijing partner server, drives it with the same payloads and
# connections, and prints the gateway/nginx throughput ratio.
#
# Usage: bench/nginx-compare.sh [loadgen options], e.g. -c 32 -d 10 --nginx-workers 2
# Not part of CI or ./test.sh. See BENCHMARKS.md.
set -eu
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "installing nginx (Debian package)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release -p gateway --bins
exec "$CARGO_TARGET_DIR/release/loadgen" compare --nginx "$NGINX" "$@"
