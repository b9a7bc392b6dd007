#!/usr/bin/env bash
# The project's test command: installs what the tests need (libxml2's
# xmllint, for validating XML output against the XSDs), then runs every test
# of the workspace: unit tests, the conformance suite, the CLI tests.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v xmllint >/dev/null 2>&1; then
  echo "installing libxml2-utils (xmllint)" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils
  fi
fi
cargo test --workspace --locked "$@"
