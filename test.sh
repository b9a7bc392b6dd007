#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every
# test of the workspace: unit tests, the conformance suite, the end-to-end
# suites over real TLS, the CLI tests, the inbox's browser test and the
# OTLP export test.
#
# Installs only what is missing (a re-run installs nothing):
# - Debian: make (jemalloc, the gateway's allocator, is built from its C
#   sources); libxml2-utils (xmllint, validating XML output against the
#   XSDs); chromium, fonts-wqy-zenhei (Chinese text in the screenshots) and
#   libnss3-tools (certutil: the browser trusts the development CA) for
#   gateway/tests/browser.rs; nodejs and npm only when node is absent;
#   python3-pip only when pip is absent.
# - npm: `npm ci` in gateway/tests/browser (playwright-core, pinned by its
#   package-lock.json; it drives Debian's chromium, never downloads one).
# - PyPI: rotel (its rotel-agent is the OTLP receiver of
#   gateway/tests/otlp.rs, found through ROTEL_AGENT).
set -euo pipefail
cd "$(dirname "$0")"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v make >/dev/null 2>&1 || missing+=(make)
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
dpkg-query -W -f='${Status}' fonts-wqy-zenhei 2>/dev/null | grep -q "ok installed" \
  || missing+=(fonts-wqy-zenhei)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3 python3-pip)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# rotel ships rotel-agent inside its Python package.
rotel_agent() {
  python3 -c 'import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))' 2>/dev/null
}
if [ -z "${ROTEL_AGENT:-}" ] && ! rotel_agent >/dev/null; then
  echo "installing rotel (the OTLP receiver) from PyPI" >&2
  # Debian's own python3 refuses pip installs unless told to.
  python3 -m pip install -q --pre rotel ||
    python3 -m pip install -q --pre --break-system-packages rotel
fi
if [ -z "${ROTEL_AGENT:-}" ]; then
  ROTEL_AGENT="$(rotel_agent)"
  export ROTEL_AGENT
fi

browser=gateway/tests/browser
# npm ci again only when the lock file is newer than the installed tree.
if [ ! -f "$browser/node_modules/.package-lock.json" ] \
  || [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; then
  echo "npm ci in $browser (node $(node --version))" >&2
  (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo test --workspace --locked "$@"
