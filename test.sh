#!/usr/bin/env bash
# The project's test command: installs what the tests need (libxml2's
# xmllint, for validating XML output against the XSDs; the OTLP receiver
# rotel-agent from PyPI's rotel, for gateway/tests/otlp.rs), then runs every
# test of the workspace: unit tests, the conformance suite, the CLI tests.
set -euo pipefail
cd "$(dirname "$0")"
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
if ! command -v xmllint >/dev/null 2>&1; then
  echo "installing libxml2-utils (xmllint)" >&2
  apt_install libxml2-utils
fi
# rotel ships rotel-agent inside its Python package; the test finds it
# through ROTEL_AGENT.
rotel_agent() {
  python3 -c 'import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))' 2>/dev/null
}
if [ -z "${ROTEL_AGENT:-}" ] && ! rotel_agent >/dev/null; then
  echo "installing rotel (the OTLP receiver) from PyPI" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt_install python3 python3-pip
  fi
  # Debian's own python3 refuses pip installs unless told to.
  python3 -m pip install -q --pre rotel ||
    python3 -m pip install -q --pre --break-system-packages rotel
fi
if [ -z "${ROTEL_AGENT:-}" ]; then
  ROTEL_AGENT="$(rotel_agent)"
  export ROTEL_AGENT
fi
cargo test --workspace --locked "$@"
