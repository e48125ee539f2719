#!/usr/bin/env bash
# Fuzz the mock with schemathesis (PyPI, pinned) over HTTP: the default
# definition and pack, on a free port. Fails when schemathesis finds a
# failure: a 5xx, a status code or Content-Type the definition does not
# declare, or a body that breaks the declared response schema.
#
#   bash .ci/schemathesis.sh              # as CI runs it
#   MAX_EXAMPLES=200 SEED=7 bash .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
VENV=.ci/venv
OUT=.ci/out/schemathesis
MAX_EXAMPLES=${MAX_EXAMPLES:-20}
SEED=${SEED:-1}

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$VERSION"; then
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 needs its venv module from a package.
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

. "$(dirname "$0")/start-server.sh"
start_server "$OUT"

# From inside $OUT, so that its caches (.schemathesis/, .hypothesis/) stay there.
root=$(pwd)
cd "$OUT"
SCHEMATHESIS_HOOKS="$root/.ci/schemathesis_hooks.py" timeout 900 "$root/$VENV/bin/schemathesis" run \
  "$root/downloads/swagger/swagger.json" \
  --url "$base" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --generation-database none \
  --request-timeout 10 \
  --no-color
