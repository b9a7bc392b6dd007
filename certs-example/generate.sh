#!/usr/bin/env bash
# Regenerates the DEVELOPMENT certificate set in this directory: a new CA,
# the gateway's server and client certificates, and the example partners'
# client (and, for push partners, server) certificates. Every certificate
# is valid for 10 years. The keys are committed and therefore public:
# never use anything here outside development and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p gateway -- certs generate --out certs-example "$@"
