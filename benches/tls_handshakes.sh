#!/usr/bin/env bash
# TLS handshake rate of gpconnect-mock: full handshakes (a new session per
# connection) and resumed ones, with mutual authentication (the client
# certificate of `gpconnect-mock certs`), for each --tls-profile, measured
# by `openssl s_time` on loopback (handshake only, no request).
#
#   benches/tls_handshakes.sh
#
# Environment (all optional):
#   SECONDS_PER_RUN=5   seconds per s_time run
#   PORT=18443          loopback port
#   NO_BUILD=1          use target/release/gpconnect-mock as it is
#   TARGET_DIR=target   cargo's target directory (default $CARGO_TARGET_DIR, else target/)
#   OURS=…              the binary instead
#   MOCK_ARGS=""        extra flags for serve (e.g. "--workers 2")
#
# s_time runs one connection at a time, so the rate is the latency of one
# handshake (client and server on the same cores), not a saturation figure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
PORT=${PORT:-18443}
TARGET_DIR=${TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}
OURS=${OURS:-"$TARGET_DIR/release/gpconnect-mock"}
MOCK_ARGS=${MOCK_ARGS:-}

command -v openssl >/dev/null 2>&1 || { echo "openssl is required (apt-get install openssl)" >&2; exit 1; }
if [ "${NO_BUILD:-0}" != 1 ]; then
    CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release >&2
fi
[ -x "$OURS" ] || { echo "$OURS is missing (run without NO_BUILD=1)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpc-tls.XXXXXX")
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
"$OURS" certs "$TMP/certs" >/dev/null

# rate MODE: connections per second of one s_time run (-new or -reuse).
rate() {
    local out
    out=$(openssl s_time -connect "127.0.0.1:$PORT" "$1" -time "$SECONDS_PER_RUN" \
        -cert "$TMP/certs/client.pem" -key "$TMP/certs/client.key.pem" -CAfile "$TMP/certs/ca.pem" 2>&1) || true
    # "N connections in S real seconds": the wall-clock rate.
    awk '/connections in [0-9.]+ real seconds/ { printf "%.0f", $1 / $4; found = 1 }
         END { if (!found) printf "failed" }' <<<"$out"
}

printf '%-8s | %18s | %18s\n' "profile" "full handshakes/s" "resumed/s"
for profile in default spine; do
    # shellcheck disable=SC2086 # MOCK_ARGS is a list of flags
    "$OURS" serve --port "$PORT" --no-watch --tls-cert "$TMP/certs/server.pem" \
        --tls-key "$TMP/certs/server.key.pem" --client-ca "$TMP/certs/ca.pem" \
        --tls-profile "$profile" $MOCK_ARGS >"$TMP/serve-$profile.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 100); do
        grep -q "listening on https://" "$TMP/serve-$profile.log" && break
        sleep 0.1
    done
    printf '%-8s | %18s | %18s\n' "$profile" "$(rate -new)" "$(rate -reuse)"
    kill "$PID" && wait "$PID" 2>/dev/null || true
    PID=""
done
echo "openssl s_time, ${SECONDS_PER_RUN}s per run, mutual TLS (ECDSA P-256 certificates), loopback, $(nproc) cores"
