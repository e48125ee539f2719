#!/usr/bin/env bash
# Run the exported Postman collection with newman (npm registry, pinned,
# installed under .ci/node_modules) against a fresh server with the default
# definition and pack. Fails when any request fails any of its tests, or
# when the collection cannot be exported or run.
#
#   bash .ci/newman.sh              # as CI runs it
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=6.2.2
NEWMAN=.ci/node_modules/.bin/newman
OUT=.ci/out/newman

if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
installed=$(node -p "require('./.ci/node_modules/newman/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$VERSION" ] || [ ! -x "$NEWMAN" ]; then
  # --no-save, --no-package-lock: nothing but .ci/node_modules is written.
  npm install --prefix .ci --no-save --no-package-lock --no-audit --no-fund \
    --loglevel error "newman@$VERSION"
fi

rm -rf "$OUT"
. "$(dirname "$0")/start-server.sh"
start_server "$OUT"

"${CARGO_TARGET_DIR:-target}"/debug/gpconnect-mock postman --out "$OUT" --base-url "$base"

if ! timeout 300 "$NEWMAN" run "$OUT/gpconnect-mock.postman_collection.json" \
  --environment "$OUT/gpconnect-mock.postman_environment.json" \
  --timeout-request 10000 \
  --color off \
  --reporters cli; then
  echo >&2
  echo "newman: the exported Postman collection FAILED against the mock (see the failures above;" >&2
  echo "server log: $OUT/server.err)" >&2
  exit 1
fi
