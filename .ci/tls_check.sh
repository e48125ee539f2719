#!/usr/bin/env bash
# TLS mutual authentication, checked with curl (OpenSSL), a client other
# than the tests' rustls one: `certs` writes a CA and client certificates,
# `serve` takes TLS with that CA required, and curl must get in with the
# valid client certificate only — not without one, not with the expired
# one, not with the foreign CA's. Then the Spine profile: TLS 1.3 and a
# cipher outside the Spine list are refused. Then the real path: a
# directory lookup and a proxied metadata call over mutual TLS.
#
#   bash .ci/tls_check.sh            # as CI runs it
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=.ci/out/tls
rm -rf "$OUT"
mkdir -p "$OUT"
cargo build --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/gpconnect-mock"
certs="$OUT/certs"
"$bin" certs "$certs" >"$OUT/certs.out"

server=""
stop() { [ -n "$server" ] && kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; }
trap stop EXIT

# serve PROFILE: TLS on a free port; sets $port.
serve() {
  stop
  "$bin" serve --port 0 --no-watch --tls-cert "$certs/server.pem" --tls-key "$certs/server.key.pem" \
    --client-ca "$certs/ca.pem" --tls-profile "$1" >"$OUT/server-$1.out" 2>"$OUT/server-$1.err" &
  server=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on https:\/\/[^ ]*:\([0-9]*\).*/\1/p' "$OUT/server-$1.out")
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$OUT/server-$1.err" >&2; exit 1; }
    sleep 0.2
  done
  [ -n "$port" ] || { echo "the TLS server did not start" >&2; exit 1; }
  echo "TLS ($1) on port $port"
}

fail=0
# expect ok|refused NAME CURL-ARGS...: a health request.
expect() {
  local want=$1 name=$2; shift 2
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$certs/ca.pem" "$@" \
    "https://localhost:$port/__admin/health" || true)
  if { [ "$want" = ok ] && [ "$code" = 200 ]; } || { [ "$want" = refused ] && [ "$code" = 000 ]; }; then
    echo "  ok: $name ($code)"
  else
    echo "  FAILED: $name: wanted $want, got HTTP $code" >&2
    fail=1
  fi
}

serve default
expect ok "valid client certificate" --cert "$certs/client.pem" --key "$certs/client.key.pem"
expect refused "no client certificate"
expect refused "expired client certificate" --cert "$certs/client-expired.pem" --key "$certs/client-expired.key.pem"
expect refused "foreign CA's client certificate" --cert "$certs/client-foreign.pem" --key "$certs/client-foreign.key.pem"
for reason in "the client sent no certificate" "has expired" "not issued by the --client-ca"; do
  if ! grep -q "TLS handshake failed: .*$reason" "$OUT/server-default.err"; then
    echo "  FAILED: the log does not say: $reason" >&2
    fail=1
  fi
done

# The real path over mutual TLS: lookup, then the proxied call.
mtls=(--cacert "$certs/ca.pem" --cert "$certs/client.pem" --key "$certs/client.key.pem" --max-time 10 -s)
address=$(curl "${mtls[@]}" -H 'apikey: any' \
  "https://localhost:$port/spine-directory/FHIR/R4/Endpoint?organization=https://fhir.nhs.uk/Id/ods-organization-code|B82617&identifier=https://fhir.nhs.uk/Id/nhsServiceInteractionId|urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["entry"][0]["resource"]["address"])')
# The sample request's headers (SSP headers, a fresh JWT), as a curl config.
curl "${mtls[@]}" -f -o "$OUT/headers.curl" \
  "https://localhost:$port/__admin/sample-request?api=gpconnect-foundations&operation=Metadata_Read&format=headers"
code=$(curl "${mtls[@]}" -K "$OUT/headers.curl" -o "$OUT/proxied.json" -w '%{http_code}' \
  "https://localhost:$port/$address/metadata" || true)
if [ "$address" = "https://provider.example/B82617/STU3/1/gpconnect/fhir" ] && [ "$code" = 200 ] &&
  grep -q '"CapabilityStatement"' "$OUT/proxied.json"; then
  echo "  ok: SDS lookup gave $address; the proxied metadata call answered 200"
else
  echo "  FAILED: lookup/proxy: address '$address', status $code: $(head -c 300 "$OUT/proxied.json")" >&2
  fail=1
fi

serve spine
expect ok "TLS 1.2 with a Spine suite" --tlsv1.2 --tls-max 1.2 --cert "$certs/client.pem" --key "$certs/client.key.pem"
expect refused "TLS 1.3 only" --tlsv1.3 --cert "$certs/client.pem" --key "$certs/client.key.pem"
expect refused "TLS 1.2, AES128-SHA256 only (not listed)" --tls-max 1.2 --ciphers AES128-SHA256 --cert "$certs/client.pem" --key "$certs/client.key.pem"
expect refused "TLS 1.2, ECDHE-ECDSA-CHACHA20-POLY1305 only (not listed)" --tls-max 1.2 --ciphers ECDHE-ECDSA-CHACHA20-POLY1305 --cert "$certs/client.pem" --key "$certs/client.key.pem"

if [ "$fail" != 0 ]; then
  echo "TLS check failed; logs in $OUT" >&2
  exit 1
fi
echo "TLS check passed"
