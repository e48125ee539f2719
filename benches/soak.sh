#!/usr/bin/env bash
# Soak benchmark: gpconnect-mock under mixed valid and hostile traffic for
# a bounded time, on loopback, with its resident memory sampled.
#
#   benches/soak.sh
#
# 1. builds release (`cargo build --release`) unless NO_BUILD=1;
# 2. starts gpconnect-mock with the default pack (`serve --no-watch`);
# 3. runs curl loops in parallel for DURATION seconds:
#    - valid: metadata, a patient read and search, getschedule, bookings of
#      random slots (201, 409 or 422), amend and cancel of Appointment/1,
#      now and then a reset;
#    - tokens: valid JWTs padded with ~30 KB, each one unique;
#    - headers: valid requests with a ~40 KB extra header, each unique;
#    - junk: malformed JSON, unknown paths, bad methods, and the Postman
#      collection export;
# 4. samples VmRSS from /proc every SAMPLE seconds and prints the curve,
#    the request and 5xx counts per loop, and peak RSS (VmHWM);
# 5. sends SIGTERM while IN_FLIGHT care-record requests are still uploading
#    their bodies (~600 KB each at 200 KB/s) and counts how many of them
#    were answered and how many dropped, and how long the exit took.
#
# Environment (all optional):
#   DURATION=120   seconds of traffic (the issue's runs were N minutes)
#   SAMPLE=10      seconds between RSS samples
#   PORT=18090     loopback port
#   NO_BUILD=1     use the binary already built
#   BIN=path       the binary to run (default: <target>/release/gpconnect-mock,
#                  <target> being $CARGO_TARGET_DIR or ./target)
#   MOCK_ARGS=""   extra flags for `serve` (e.g. "--journal-size 5000")
#   IN_FLIGHT=10   requests in flight when SIGTERM is sent
#   KEEP=1         keep the temp dir (status logs, server log)
#
# Exits non-zero only if the server dies (or never starts); 5xx answers and
# the memory curve are reported, not judged: they depend on the machine.

set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-120}
SAMPLE=${SAMPLE:-10}
PORT=${PORT:-18090}
IN_FLIGHT=${IN_FLIGHT:-10}
MOCK_ARGS=${MOCK_ARGS:-}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${BIN:-$TARGET_DIR/release/gpconnect-mock}
BASE="http://127.0.0.1:$PORT"

die() {
    echo "soak.sh: error: $*" >&2
    exit 1
}

for setting in "DURATION=$DURATION" "SAMPLE=$SAMPLE" "PORT=$PORT" "IN_FLIGHT=$IN_FLIGHT"; do
    [[ ${setting#*=} =~ ^[1-9][0-9]*$ ]] ||
        die "${setting%%=*} must be a whole number of at least 1, was '${setting#*=}'"
done
command -v curl >/dev/null 2>&1 || die "curl is required (apt-get install curl)"
command -v base64 >/dev/null 2>&1 || die "base64 (coreutils) is required"
[ -r /proc/self/status ] || die "needs /proc (Linux) to read the server's RSS"

if [ "${NO_BUILD:-0}" != 1 ]; then
    echo "== cargo build --release" >&2
    cargo build --release >&2
fi
[ -x "$BIN" ] || die "$BIN is missing (run without NO_BUILD=1, or set BIN)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpc-soak.XXXXXX")
SERVER_PID=""
WORKERS=()
cleanup() {
    local pid
    for pid in "${WORKERS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${WORKERS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "soak.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if curl -s -o /dev/null --max-time 1 "$BASE/"; then
    die "something already listens on 127.0.0.1:$PORT (set PORT)"
fi

# ---- GP Connect requests ---------------------------------------------------
PROVIDER_ASID=918999198993
CONSUMER_ASID=200000000359
NHS_NUMBER=9658218873
URN=urn:nhs:names:services:gpconnect:fhir
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
JWT_HEADER=$(printf '%s' '{"alg":"none","typ":"JWT"}' | b64url)

# An unsigned DSTU2 JWT. $1: patient | organization, $2: read | write,
# $3: extra claims text (e.g. a padding claim), may be empty.
make_jwt() {
    local kind=$1 access=$2 extra=${3:-} now record
    now=$(date +%s)
    if [ "$kind" = patient ]; then
        record='{"resourceType":"Patient","identifier":[{"system":"http://fhir.nhs.net/Id/nhs-number","value":"'$NHS_NUMBER'"}]}'
    else
        record='{"resourceType":"Organization","identifier":[{"system":"http://fhir.nhs.net/Id/ods-organization-code","value":"A20047"}]}'
    fi
    local claims='{"iss":"https://consumer.example.org","sub":"1","aud":"https://authorize.fhir.nhs.net/token",'
    claims+='"exp":'$((now + 300))',"iat":'$now',"reason_for_request":"directcare",'
    claims+='"requested_scope":"'$kind'/*.'$access'",'
    claims+='"requesting_device":{"resourceType":"Device","id":"1","identifier":[{"system":"https://consumer.example.org/device","value":"gpconnect-mock"}],"model":"gpconnect-mock","version":"1"},'
    claims+='"requesting_organization":{"resourceType":"Organization","id":"1","identifier":[{"system":"http://fhir.nhs.net/Id/ods-organization-code","value":"GPCA0001"}],"name":"Consumer Organisation"},'
    claims+='"requesting_practitioner":{"resourceType":"Practitioner","id":"1","name":{"family":["Consumer"],"given":["Test"],"prefix":["Dr"]},"identifier":[{"system":"http://fhir.nhs.net/sds-user-id","value":"G13579135"}],"practitionerRole":[{"role":{"coding":[{"system":"http://fhir.nhs.net/ValueSet/sds-job-role-name-1","code":"R0260"}]}}]},'
    claims+=$extra
    claims+='"requested_record":'$record'}'
    printf '%s.%s.' "$JWT_HEADER" "$(printf '%s' "$claims" | b64url)"
}

# Writes a curl header file for an interaction: $1 file, $2 kind, $3 access,
# $4 interaction suffix, $5 extra claims.
write_headers() {
    {
        echo "Ssp-TraceID: $(cat /proc/sys/kernel/random/uuid)"
        echo "Ssp-From: $CONSUMER_ASID"
        echo "Ssp-To: $PROVIDER_ASID"
        echo "Ssp-InteractionID: $URN:$4"
        echo "Authorization: Bearer $(make_jwt "$2" "$3" "${5:-}")"
        echo "Accept: application/json+fhir"
        echo "Content-Type: application/json+fhir"
    } >"$1"
}

# One request; appends its status to $log. $1 log, $2 method, $3 path,
# $4 header file (or ""), $5 body file (or ""), then extra curl arguments.
hit() {
    local log=$1 method=$2 path=$3 headers=$4 body=$5
    shift 5
    local args=(-s -o /dev/null -w '%{http_code}\n' --max-time 30 -X "$method")
    [ -n "$headers" ] && args+=(-H "@$headers")
    [ -n "$body" ] && args+=(--data-binary "@$body")
    curl "${args[@]}" "$@" "$BASE$path" >>"$log" 2>/dev/null || echo 000 >>"$log"
}

# ---- bodies ------------------------------------------------------------------
printf '%s' '{"resourceType":"Parameters","parameter":[{"name":"odsOrganisationCode","valueIdentifier":{"system":"http://fhir.nhs.net/Id/ods-organization-code","value":"A20047"}},{"name":"timePeriod","valuePeriod":{"start":"'"$(date -u +%Y-%m-%d)"'","end":"'"$(date -u -d '+7 days' +%Y-%m-%d 2>/dev/null || date -u +%Y-%m-%d)"'"}}]}' >"$TMP/schedule.json"
booking() {
    printf '%s' '{"resourceType":"Appointment","status":"booked","description":"Soak","start":"2030-01-01T09:00:00+00:00","end":"2030-01-01T09:15:00+00:00","slot":[{"reference":"Slot/'"$1"'"}],"participant":[{"actor":{"reference":"Patient/2"},"status":"accepted"},{"actor":{"reference":"Location/1"},"status":"accepted"}]}'
}
printf '%s' '{"resourceType":"Appointment","id":"1","status":"booked","description":"Amended by the soak","slot":[{"reference":"Slot/1"}],"participant":[{"actor":{"reference":"Patient/2"},"status":"accepted"}]}' >"$TMP/amend.json"
printf '%s' '{"resourceType":"Appointment","id":"1","status":"cancelled","extension":[{"url":"http://fhir.nhs.net/StructureDefinition/extension-gpconnect-appointment-cancellation-reason-1","valueString":"Soak"}],"slot":[{"reference":"Slot/2"}],"participant":[{"actor":{"reference":"Patient/2"},"status":"accepted"}]}' >"$TMP/cancel.json"
printf '%s' '{"resourceType":"Appointment","status":' >"$TMP/malformed.json"
head -c 20000 /dev/urandom >"$TMP/random.bin"

# ---- workers -----------------------------------------------------------------
END=$(($(date +%s) + DURATION))

worker_valid() {
    local log=$TMP/valid.log i=0 h=$TMP/valid.h
    while [ "$(date +%s)" -lt "$END" ]; do
        write_headers "$h" organization read rest:read:metadata
        hit "$log" GET /fhir/metadata "$h" ""
        write_headers "$h" patient read rest:read:patient
        hit "$log" GET /fhir/Patient/2 "$h" ""
        write_headers "$h" patient read rest:search:patient
        hit "$log" GET "/fhir/Patient?identifier=http://fhir.nhs.net/Id/nhs-number%7C$NHS_NUMBER" "$h" ""
        write_headers "$h" organization read operation:gpc.getschedule
        hit "$log" POST '/fhir/Organization/$gpc.getschedule' "$h" "$TMP/schedule.json"
        write_headers "$h" patient write rest:create:appointment
        booking $((RANDOM % 14 + 1)) >"$TMP/booking.json"
        hit "$log" POST /fhir/Appointment "$h" "$TMP/booking.json"
        write_headers "$h" patient write rest:update:appointment
        hit "$log" PUT /fhir/Appointment/1 "$h" "$TMP/amend.json"
        hit "$log" PUT /fhir/Appointment/1 "$h" "$TMP/cancel.json"
        i=$((i + 1))
        if [ $((i % 20)) = 0 ]; then hit "$log" POST /__admin/reset "" ""; fi
    done
}

worker_tokens() {
    local log=$TMP/tokens.log i=0 h=$TMP/tokens.h pad
    pad=$(head -c 22000 /dev/zero | tr '\0' 'p')
    while [ "$(date +%s)" -lt "$END" ]; do
        i=$((i + 1))
        write_headers "$h" patient read rest:read:patient '"padding":"'"$$-$i-$pad"'",'
        hit "$log" GET /fhir/Patient/2 "$h" ""
    done
}

worker_headers() {
    local log=$TMP/headers.log i=0 h=$TMP/headers.h pad
    pad=$(head -c 40000 /dev/zero | tr '\0' 'h')
    while [ "$(date +%s)" -lt "$END" ]; do
        i=$((i + 1))
        write_headers "$h" patient read rest:read:patient
        echo "X-Padding: $i-$pad" >>"$h"
        hit "$log" GET /fhir/Patient/2 "$h" ""
    done
}

worker_junk() {
    local log=$TMP/junk.log i=0 h=$TMP/junk.h
    while [ "$(date +%s)" -lt "$END" ]; do
        i=$((i + 1))
        write_headers "$h" patient write rest:create:appointment
        hit "$log" POST /fhir/Appointment "$h" "$TMP/malformed.json"
        hit "$log" POST /fhir/Appointment "$h" "$TMP/random.bin"
        hit "$log" GET "/fhir/Nothing/$i/here?x=$i" "$h" ""
        hit "$log" DELETE /fhir/Patient/2 "$h" ""
        hit "$log" GET "/no/such/$i" "" ""
        if [ $((i % 10)) = 0 ]; then hit "$log" GET /__admin/postman/collection "" ""; fi
    done
}

# ---- run -----------------------------------------------------------------------
echo "== starting $BIN serve --no-watch --port $PORT $MOCK_ARGS" >&2
# shellcheck disable=SC2086
"$BIN" serve --no-watch --port "$PORT" $MOCK_ARGS >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
    curl -s -o /dev/null --max-time 1 "$BASE/__admin/health" && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited at start: $(tail -5 "$TMP/server.log")"
    sleep 0.1
done
curl -s -o /dev/null --max-time 1 "$BASE/__admin/health" || die "the server did not start"

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }
START_RSS=$(rss)
echo "== soak for ${DURATION}s; RSS every ${SAMPLE}s (start: $((START_RSS / 1024)) MB)" >&2

for worker in worker_valid worker_tokens worker_headers worker_junk; do
    "$worker" &
    WORKERS+=($!)
done

CRASHED=0
CURVE=("0s $((START_RSS / 1024)) MB")
STARTED=$(date +%s)
while [ "$(date +%s)" -lt "$END" ]; do
    sleep "$SAMPLE"
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        CRASHED=1
        break
    fi
    CURVE+=("$(($(date +%s) - STARTED))s $(($(rss) / 1024)) MB")
    echo "   ${CURVE[-1]}" >&2
done
for pid in "${WORKERS[@]}"; do wait "$pid" 2>/dev/null || true; done
WORKERS=()
kill -0 "$SERVER_PID" 2>/dev/null || CRASHED=1
PEAK=$(hwm)

# ---- SIGTERM with requests in flight ------------------------------------------
# A care-record request whose body (valid JSON, padded with spaces) takes
# about three seconds to upload: SIGTERM arrives while every one of them is
# being read, so each must still be answered before the process exits.
TERM_REPORT="not run: the server had died"
if [ "$CRASHED" = 0 ]; then
    write_headers "$TMP/term.h" patient read operation:gpc.getcarerecord
    {
        printf '%s' '{"resourceType":"Parameters","parameter":[{"name":"patientNHSNumber","valueIdentifier":{"system":"http://fhir.nhs.net/Id/nhs-number","value":"'$NHS_NUMBER'"}},{"name":"recordSection","valueCodeableConcept":{"coding":[{"system":"http://fhir.nhs.net/ValueSet/gpconnect-record-section-1","code":"SUM"}]}}]'
        head -c 600000 /dev/zero | tr '\0' ' '
        printf '}'
    } >"$TMP/term.json"
    TERM_PIDS=()
    for _ in $(seq 1 "$IN_FLIGHT"); do
        hit "$TMP/term.log" POST '/fhir/Patient/$gpc.getcarerecord' "$TMP/term.h" "$TMP/term.json" --limit-rate 200k &
        TERM_PIDS+=($!)
    done
    sleep 1
    TERM_SENT=$(date +%s%N)
    kill -TERM "$SERVER_PID"
    EXIT_STATUS=0
    wait "$SERVER_PID" || EXIT_STATUS=$?
    EXIT_MS=$((($(date +%s%N) - TERM_SENT) / 1000000))
    SERVER_PID=""
    for pid in "${TERM_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -f "$TMP/term.log" ] || touch "$TMP/term.log"
    ANSWERED=$(grep -vc '^000' "$TMP/term.log" || true)
    DROPPED=$(grep -c '^000' "$TMP/term.log" || true)
    STATUSES=$(sort "$TMP/term.log" | uniq -c | awk '{printf "%s%s x %s", (NR > 1 ? ", " : ""), $1, $2}')
    TERM_REPORT="$IN_FLIGHT in flight: $ANSWERED answered ($STATUSES), $DROPPED dropped; exited with status $EXIT_STATUS ${EXIT_MS} ms after SIGTERM"
fi

# ---- report --------------------------------------------------------------------
echo
echo "RSS curve (VmRSS):"
for point in "${CURVE[@]}"; do echo "  $point"; done
if [ "$CRASHED" = 0 ]; then
    echo "peak RSS (VmHWM): $((PEAK / 1024)) MB"
fi
printf '%-8s %9s %6s %6s %6s %6s\n' loop requests 2xx 4xx 5xx failed
TOTAL_5XX=0
for name in valid tokens headers junk; do
    log=$TMP/$name.log
    [ -f "$log" ] || touch "$log"
    total=$(wc -l <"$log")
    ok=$(grep -c '^2' "$log" || true)
    client=$(grep -c '^4' "$log" || true)
    server=$(grep -c '^5' "$log" || true)
    failed=$(grep -c '^000' "$log" || true)
    TOTAL_5XX=$((TOTAL_5XX + server))
    printf '%-8s %9s %6s %6s %6s %6s\n' "$name" "$total" "$ok" "$client" "$server" "$failed"
done
echo "5xx answers: $TOTAL_5XX"
echo "SIGTERM: $TERM_REPORT"
if [ "$CRASHED" = 1 ]; then
    echo "soak.sh: the server died; its log ends:" >&2
    tail -20 "$TMP/server.log" >&2
    exit 1
fi
echo "the server survived ${DURATION}s"
