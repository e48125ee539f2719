#!/usr/bin/env bash
# End-to-end load benchmark: gpconnect-mock against a bare axum server that
# answers the same bytes, under wrk, on loopback.
#
#   benches/load.sh
#
# 1. builds release (`cargo build --release`, then the bench-only
#    `bare-server` binary with `--features bench-bare`);
# 2. starts gpconnect-mock with the default pack (`serve --no-watch`),
#    timing process start to the first 200 on /fhir/metadata;
# 3. for each case sends one valid GP Connect request (SSP headers and an
#    unsigned DSTU2 JWT) and fails unless gpconnect-mock answers 200; the
#    answers (status, headers, body) are saved and served by the bare
#    server;
# 4. runs `wrk -t1 -cN -dDs --latency` per case at 1 and 50 connections,
#    ROUNDS times per server, alternating ours and bare, and prints one
#    line per case x connections: the median requests/s, p50 and p99 for
#    both, and ours/bare; then the startup time
#    and peak RSS (VmHWM) of gpconnect-mock after the run.
#
# Environment (all optional):
#   DURATION=5         seconds per wrk run
#   ROUNDS=3           runs per server and case, alternating ours and bare;
#                      the table shows the median of each figure, so a
#                      burst of other work on the machine skews one round,
#                      not the result
#   CONNECTIONS="1 50" connection counts
#   CASES="metadata read search carerecord"   a subset of the cases; also
#                      xmlmetadata and xmlcarerecord (the same answers as
#                      FHIR XML, negotiated with _format=xml), stu3read and
#                      stu3slots (the 1.x API: a patient read, a 7-day free
#                      slot search with its schedules), structured (Access
#                      Record Structured: patient2's full record, every
#                      area, POSTed with the 1.x JWT), tlsmetadata (the
#                      metadata case over TLS: gpconnect-mock also listens
#                      with --tls-port TLS_PORT and certificates from its
#                      `certs`; its "bare" column is gpconnect-mock over
#                      plain HTTP, so "rps %" is TLS / plain. wrk keeps its
#                      connections alive, so handshakes are few: this is the
#                      cost of encryption on kept-alive connections. wrk
#                      cannot present a client certificate, so this server
#                      asks for none; benches/tls_handshakes.sh measures
#                      full and resumed mutual-TLS handshakes per second)
#   PORT=18080 BARE_PORT=18081 TLS_PORT=18443  loopback ports
#   NO_BUILD=1         use the binaries already in target/release
#   TARGET_DIR=target  cargo's target directory (default $CARGO_TARGET_DIR,
#                      else target/): the binaries are TARGET_DIR/release/…
#   OURS=… BARE=…      paths of the two binaries instead (e.g. to compare
#                      a copy of another commit's gpconnect-mock; use with
#                      NO_BUILD=1)
#   KEEP=1             keep the temp dir (wrk outputs, captured answers, logs)
#   MOCK_ARGS="--journal-size 0"   extra flags for gpconnect-mock serve
#                      (e.g. "--workers 2"; by default it runs half the
#                      cores, at least one; the bare server runs one per core)
#   BARE_WORKERS=1     worker threads of the bare server (default: tokio's,
#                      one per core)
#
# Nothing here is a pass/fail test: the numbers depend on the machine, and
# wrk shares its cores with the servers. Loopback only; every run is bounded.

set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
MOCK_ARGS=${MOCK_ARGS:-}
CONNECTIONS=${CONNECTIONS:-"1 50"}
CASES=${CASES:-"metadata read search carerecord"}
PORT=${PORT:-18080}
BARE_PORT=${BARE_PORT:-18081}
TLS_PORT=${TLS_PORT:-18443}
TARGET_DIR=${TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}
OURS=${OURS:-"$TARGET_DIR/release/gpconnect-mock"}
BARE=${BARE:-"$TARGET_DIR/release/bare-server"}
LUA="$ROOT/benches/request.lua"

die() {
    echo "load.sh: error: $*" >&2
    exit 1
}

BARE_CMD=("$BARE")
if [ -n "${BARE_WORKERS:-}" ]; then
    [[ $BARE_WORKERS =~ ^[1-9][0-9]*$ ]] ||
        die "BARE_WORKERS must be a whole number of at least 1, was '$BARE_WORKERS'"
    BARE_CMD=(env "TOKIO_WORKER_THREADS=$BARE_WORKERS" "$BARE")
fi

for setting in "DURATION=$DURATION" "ROUNDS=$ROUNDS"; do
    [[ ${setting#*=} =~ ^[1-9][0-9]*$ ]] ||
        die "${setting%%=*} must be a whole number of at least 1, was '${setting#*=}'"
done

# ---- tools -----------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    echo "load.sh: wrk not found; installing it from Debian packages (apt-get install -y wrk)" >&2
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        { apt-get install -y wrk >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; }; } || true
    elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        sudo apt-get install -y wrk >/dev/null 2>&1 || true
    fi
    command -v wrk >/dev/null 2>&1 ||
        die "wrk is required and could not be installed: install it (Debian/Ubuntu: 'apt-get install wrk', macOS: 'brew install wrk') and run again"
fi
command -v curl >/dev/null 2>&1 || die "curl is required (apt-get install curl)"
command -v base64 >/dev/null 2>&1 || die "base64 (coreutils) is required"
PYTHON=$(command -v python3 || true)

# ---- build -----------------------------------------------------------------
if [ "${NO_BUILD:-0}" != 1 ]; then
    echo "== cargo build --release" >&2
    CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release >&2
    echo "== cargo build --release --features bench-bare --bin bare-server" >&2
    CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --features bench-bare --bin bare-server >&2
fi
[ -x "$OURS" ] || die "$OURS is missing (run without NO_BUILD=1)"
[ -x "$BARE" ] || die "$BARE is missing (run without NO_BUILD=1)"

# ---- temp dir and cleanup --------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpc-load.XXXXXX")
OURS_PID=""
BARE_PID=""
cleanup() {
    local pid
    for pid in $OURS_PID $BARE_PID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $OURS_PID $BARE_PID; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then
        echo "load.sh: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in "$PORT" "$BARE_PORT"; do
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
        die "something already listens on 127.0.0.1:$port (set PORT / BARE_PORT)"
    fi
done

# ---- GP Connect requests ---------------------------------------------------
PROVIDER_ASID=918999198993
STU3_PROVIDER_ASID=918999198738
STU3_BASE=/B82617/STU3/1/gpconnect/fhir
STRUCTURED_BASE=/B82617/STU3/1/gpconnect/structured/fhir
CONSUMER_ASID=200000000359
NHS_NUMBER=9658218873
URN=urn:nhs:names:services:gpconnect:fhir
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
TRACE_ID=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || echo 3f2504e0-4f89-41d3-9a0c-0305e82c3301)

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# An unsigned DSTU2 JWT (DOMAIN.md section 4): alg none, empty signature,
# exp = iat + 300, the claims of src/synth.rs `jwt_claims`.
# $1: patient | organization (the record kind of the scope), or
# stu3patient | stu3organization for the 1.x claims (no requested_record).
make_jwt() {
    local kind=$1 now record
    now=$(date +%s)
    if [ "${kind#stu3}" != "$kind" ]; then
        local claims='{"iss":"https://consumer.example.org","sub":"1","aud":"https://authorize.fhir.nhs.net/token",'
        claims+='"exp":'$((now + 300))',"iat":'$now',"reason_for_request":"directcare",'
        claims+='"requested_scope":"'${kind#stu3}'/*.read",'
        claims+='"requesting_device":{"resourceType":"Device","identifier":[{"system":"https://consumer.example.org/device","value":"gpconnect-mock"}],"model":"gpconnect-mock","version":"'$VERSION'"},'
        claims+='"requesting_organization":{"resourceType":"Organization","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A11111"}],"name":"Consumer Organisation"},'
        claims+='"requesting_practitioner":{"resourceType":"Practitioner","id":"1","name":[{"family":"Consumer","given":["Test"],"prefix":["Dr"]}],"identifier":[{"system":"https://fhir.nhs.uk/Id/sds-user-id","value":"G13579135"},{"system":"https://fhir.nhs.uk/Id/sds-role-profile-id","value":"111111111"}]}}'
        printf '%s.%s.' "$(printf '%s' '{"alg":"none","typ":"JWT"}' | b64url)" "$(printf '%s' "$claims" | b64url)"
        return
    fi
    if [ "$kind" = patient ]; then
        record='{"resourceType":"Patient","identifier":[{"system":"http://fhir.nhs.net/Id/nhs-number","value":"'$NHS_NUMBER'"}]}'
    else
        record='{"resourceType":"Organization","identifier":[{"system":"http://fhir.nhs.net/Id/ods-organization-code","value":"A20047"}]}'
    fi
    local claims='{"iss":"https://consumer.example.org","sub":"1","aud":"https://authorize.fhir.nhs.net/token",'
    claims+='"exp":'$((now + 300))',"iat":'$now',"reason_for_request":"directcare",'
    claims+='"requested_scope":"'$kind'/*.read",'
    claims+='"requesting_device":{"resourceType":"Device","id":"1","identifier":[{"system":"https://consumer.example.org/device","value":"gpconnect-mock"}],"model":"gpconnect-mock","version":"'$VERSION'"},'
    claims+='"requesting_organization":{"resourceType":"Organization","id":"1","identifier":[{"system":"http://fhir.nhs.net/Id/ods-organization-code","value":"GPCA0001"}],"name":"Consumer Organisation"},'
    claims+='"requesting_practitioner":{"resourceType":"Practitioner","id":"1","name":{"family":["Consumer"],"given":["Test"],"prefix":["Dr"]},"identifier":[{"system":"http://fhir.nhs.net/sds-user-id","value":"G13579135"}],"practitionerRole":[{"role":{"coding":[{"system":"http://fhir.nhs.net/ValueSet/sds-job-role-name-1","code":"R0260"}]}}]},'
    claims+='"requested_record":'$record'}'
    printf '%s.%s.' "$(printf '%s' '{"alg":"none","typ":"JWT"}' | b64url)" "$(printf '%s' "$claims" | b64url)"
}

# Case table: name | method | path and query | record kind | interaction | label
case_row() {
    case "$1" in
        metadata) echo "GET|/fhir/metadata|organization|$URN:rest:read:metadata|GET /fhir/metadata" ;;
        read) echo "GET|/fhir/Patient/2|patient|$URN:rest:read:patient|GET /fhir/Patient/2" ;;
        search) echo "GET|/fhir/Patient?identifier=http://fhir.nhs.net/Id/nhs-number%7C$NHS_NUMBER|patient|$URN:rest:search:patient|GET /fhir/Patient?identifier=…|$NHS_NUMBER" ;;
        carerecord) echo "POST|/fhir/Patient/\$gpc.getcarerecord|patient|$URN:operation:gpc.getcarerecord|POST /fhir/Patient/\$gpc.getcarerecord SUM" ;;
        xmlmetadata) echo "GET|/fhir/metadata?_format=xml|organization|$URN:rest:read:metadata|GET /fhir/metadata?_format=xml" ;;
        xmlcarerecord) echo "POST|/fhir/Patient/\$gpc.getcarerecord?_format=xml|patient|$URN:operation:gpc.getcarerecord|POST …getcarerecord?_format=xml SUM" ;;
        stu3read) echo "GET|$STU3_BASE/Patient/2|stu3patient|$URN:rest:read:patient-1|GET 1.x …/Patient/2" ;;
        stu3slots) echo "GET|$STU3_BASE/Slot?start=ge$SLOT_FROM&end=le$SLOT_TO&status=free&_include=Slot:schedule|stu3organization|$URN:rest:search:slot-1|GET 1.x …/Slot?… (7 days)" ;;
        tlsmetadata) echo "GET|/fhir/metadata|organization|$URN:rest:read:metadata|GET /fhir/metadata over TLS (bare = ours, plain)" ;;
        structured) echo "POST|$STRUCTURED_BASE/Patient/\$gpc.getstructuredrecord|stu3patient|$URN:operation:gpc.getstructuredrecord-1|POST 1.x …getstructuredrecord (patient2, every area)" ;;
        *) die "unknown case $1 (cases: metadata read search carerecord xmlmetadata xmlcarerecord stu3read stu3slots structured tlsmetadata)" ;;
    esac
}
field() { cut -d'|' -f"$2" <<<"$1"; }
SLOT_FROM=$(date -u +%Y-%m-%d)
SLOT_TO=$(date -u -d '+7 days' +%Y-%m-%d)
label() { local row; row=$(case_row "$1"); cut -d'|' -f5- <<<"$row"; }

printf '%s' '{"resourceType":"Parameters","parameter":[{"name":"patientNHSNumber","valueIdentifier":{"system":"http://fhir.nhs.net/Id/nhs-number","value":"'$NHS_NUMBER'"}},{"name":"recordSection","valueCodeableConcept":{"coding":[{"system":"http://fhir.nhs.net/ValueSet/gpconnect-record-section-1","code":"SUM"}]}}]}' \
    >"$TMP/carerecord.body"
cp "$TMP/carerecord.body" "$TMP/xmlcarerecord.body"
# Every clinical area of patient2 (9690937286), resolved allergies too.
printf '%s' '{"resourceType":"Parameters","parameter":[{"name":"patientNHSNumber","valueIdentifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9690937286"}},{"name":"includeAllergies","part":[{"name":"includeResolvedAllergies","valueBoolean":true}]},{"name":"includeMedication"},{"name":"includeConsultations"},{"name":"includeProblems"},{"name":"includeImmunisations"},{"name":"includeUncategorisedData"},{"name":"includeInvestigations"},{"name":"includeReferrals"},{"name":"includeDiaryEntries"}]}' \
    >"$TMP/structured.body"

# Writes $TMP/<case>.headers with a fresh JWT (rewritten before every wrk
# run, so a long DURATION never outlives the token's 300 seconds).
write_headers() {
    local name=$1 row kind interaction method
    row=$(case_row "$name")
    method=$(field "$row" 1)
    kind=$(field "$row" 3)
    interaction=$(field "$row" 4)
    {
        echo "Ssp-TraceID: $TRACE_ID"
        echo "Ssp-From: $CONSUMER_ASID"
        if [ "${kind#stu3}" != "$kind" ]; then
            echo "Ssp-To: $STU3_PROVIDER_ASID"
            echo "Accept: application/fhir+json"
        else
            echo "Ssp-To: $PROVIDER_ASID"
            echo "Accept: application/json+fhir"
        fi
        echo "Ssp-InteractionID: $interaction"
        echo "Authorization: Bearer $(make_jwt "$kind")"
        if [ "$method" = POST ] && [ "${kind#stu3}" != "$kind" ]; then
            echo "Content-Type: application/fhir+json"
        elif [ "$method" = POST ]; then
            echo "Content-Type: application/json+fhir"
        fi
    } >"$TMP/$name.headers"
}

# ---- start gpconnect-mock, timing startup ----------------------------------
write_headers metadata
# Starts "$@" with output to $log, writes its pid to $pidfile and prints the
# milliseconds from process start to the first 200 on /fhir/metadata.
start_timed() {
    local port=$1 log=$2 pidfile=$3
    shift 3
    if [ -n "$PYTHON" ]; then
        "$PYTHON" - "$port" "$log" "$pidfile" "$TMP/metadata.headers" "$@" <<'PY'
import http.client, subprocess, sys, time
port, log, pidfile, headers_file, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
headers = dict(l.split(": ", 1) for l in open(headers_file).read().splitlines() if ": " in l)
out = open(log, "wb")
t0 = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
open(pidfile, "w").write(str(proc.pid))
while True:
    if proc.poll() is not None:
        sys.exit(f"exited with {proc.returncode} before answering; see {log}")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/fhir/metadata", headers=headers)
        status = conn.getresponse().status
        conn.close()
        if status == 200:
            break
        sys.exit(f"GET /fhir/metadata answered {status}, not 200; see {log}")
    except (ConnectionRefusedError, ConnectionResetError):
        pass
    if time.perf_counter() - t0 > 60:
        sys.exit("no answer within 60 s")
    time.sleep(0.0005)
print(f"{(time.perf_counter() - t0) * 1000:.1f}")
PY
    else
        # Coarser: each probe costs a curl process (a few ms).
        local t0 t1 code
        t0=$(date +%s%N)
        "$@" >"$log" 2>&1 </dev/null &
        echo $! >"$pidfile"
        while :; do
            kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "exited before answering; see $log" >&2; return 1; }
            code=$(curl -s -o /dev/null -w '%{http_code}' -H @"$TMP/metadata.headers" \
                "http://127.0.0.1:$port/fhir/metadata" || true)
            [ "$code" = 200 ] && break
            [ "$code" != 000 ] && { echo "GET /fhir/metadata answered $code; see $log" >&2; return 1; }
            [ $(($(date +%s%N) - t0)) -gt 60000000000 ] && { echo "no answer within 60 s" >&2; return 1; }
        done
        t1=$(date +%s%N)
        awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f\n", d / 1e6 }'
    fi
}

# tlsmetadata: a TLS listener beside the plain one, with `certs`' server
# certificate (no client certificate asked: wrk cannot present one).
TLS_ARGS=()
if [[ " $CASES " == *" tlsmetadata "* ]]; then
    "$OURS" certs "$TMP/certs" >/dev/null || die "gpconnect-mock certs failed"
    TLS_ARGS=(--tls-port "$TLS_PORT" --tls-cert "$TMP/certs/server.pem" --tls-key "$TMP/certs/server.key.pem")
fi
echo "== starting gpconnect-mock on 127.0.0.1:$PORT" >&2
OURS_STARTUP=$(start_timed "$PORT" "$TMP/ours.log" "$TMP/ours.pid" \
    "$OURS" serve --port "$PORT" --no-watch "${TLS_ARGS[@]}" $MOCK_ARGS) || {
    OURS_PID=$(cat "$TMP/ours.pid" 2>/dev/null || true)
    cat "$TMP/ours.log" >&2 || true
    die "gpconnect-mock did not start"
}
OURS_PID=$(cat "$TMP/ours.pid")
OURS_WORKERS=$(grep -o '[0-9]* worker threads\?' "$TMP/ours.log" | head -1 || true)
OURS_WORKERS=${OURS_WORKERS:-"? worker threads"}
if [ -n "${BARE_WORKERS:-}" ]; then
    BARE_WORKERS_TEXT="$BARE_WORKERS worker thread(s)"
else
    BARE_WORKERS_TEXT="tokio's default of one worker thread per core"
fi

# ---- capture each case's answer from gpconnect-mock ------------------------
mkdir -p "$TMP/bare"
: >"$TMP/bare/manifest.tsv"
for name in $CASES; do
    row=$(case_row "$name")
    method=$(field "$row" 1)
    path=$(field "$row" 2)
    write_headers "$name"
    if [ "$name" = tlsmetadata ]; then
        # Compared with ours over plain HTTP, not with the bare server.
        status=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/certs/ca.pem" \
            -H @"$TMP/$name.headers" "https://localhost:$TLS_PORT$path") || die "curl over TLS failed"
        [ "$status" = 200 ] || die "GET $path over TLS must answer 200; it answered $status"
        printf '   %-55s %s over TLS\n' "$method $path" "$status" >&2
        continue
    fi
    data=()
    [ "$method" = POST ] && data=(--data-binary @"$TMP/$name.body")
    meta=$(curl -s -X "$method" -H @"$TMP/$name.headers" "${data[@]}" \
        -o "$TMP/bare/$name.out" -D "$TMP/bare/$name.head" -w '%{http_code}\t%{content_type}' \
        "http://127.0.0.1:$PORT$path") || die "curl failed for $method $path"
    status=${meta%%$'\t'*}
    content_type=${meta#*$'\t'}
    if [ "$status" != 200 ]; then
        echo "---- $method $path answered $status:" >&2
        head -c 2000 "$TMP/bare/$name.out" >&2 || true
        echo >&2
        die "$method $path must answer 200 from gpconnect-mock before load; it answered $status"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$method" "$path" "$status" "$content_type" "$name.out" "$name.head" \
        >>"$TMP/bare/manifest.tsv"
    printf '   %-55s %s %s, %s bytes\n' "$method $path" "$status" "$content_type" \
        "$(wc -c <"$TMP/bare/$name.out")" >&2
done

# ---- start the bare server -------------------------------------------------
echo "== starting bare-server on 127.0.0.1:$BARE_PORT" >&2
# The bare server has no /fhir/metadata when CASES leaves it out: time it
# only when it can answer.
if grep -q $'^GET\t/fhir/metadata\t' "$TMP/bare/manifest.tsv"; then
    BARE_STARTUP=$(start_timed "$BARE_PORT" "$TMP/bare.log" "$TMP/bare.pid" \
        "${BARE_CMD[@]}" --port "$BARE_PORT" --dir "$TMP/bare") || {
        BARE_PID=$(cat "$TMP/bare.pid" 2>/dev/null || true)
        cat "$TMP/bare.log" >&2 || true
        die "bare-server did not start"
    }
    BARE_PID=$(cat "$TMP/bare.pid")
else
    BARE_STARTUP="-"
    "${BARE_CMD[@]}" --port "$BARE_PORT" --dir "$TMP/bare" >"$TMP/bare.log" 2>&1 </dev/null &
    BARE_PID=$!
    for _ in $(seq 1 200); do
        curl -s -o /dev/null "http://127.0.0.1:$BARE_PORT/" && break
        sleep 0.05
    done
fi

# ---- load ------------------------------------------------------------------
# Other work on the machine skews both servers' numbers: say how busy it was.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "n/a")
# Prints "requests/s p50_us p99_us non2xx socket_errors".
run_wrk() {
    local name=$1 port=$2 conns=$3 row method path out
    row=$(case_row "$name")
    method=$(field "$row" 1)
    path=$(field "$row" 2)
    write_headers "$name"
    out="$TMP/wrk-$name-$conns-$port.txt"
    local body="" url="http://127.0.0.1:$port$path"
    [ "$method" = POST ] && body="$TMP/$name.body"
    if [ "$name" = tlsmetadata ]; then
        # Ours over TLS; in the bare column, ours over plain HTTP.
        if [ "$port" = "$PORT" ]; then url="https://127.0.0.1:$TLS_PORT$path"; else url="http://127.0.0.1:$PORT$path"; fi
    fi
    BENCH_METHOD=$method BENCH_HEADERS_FILE="$TMP/$name.headers" BENCH_BODY_FILE=$body \
        wrk -t1 -c"$conns" -d"${DURATION}s" --latency -s "$LUA" "$url" \
        >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed for $name"; }
    awk '/^WRK_RESULT/ { printf "%.0f %d %d %d %d\n", $2 / ($3 / 1e6), $4, $5, $6, $7; found = 1 }
         END { if (!found) exit 1 }' "$out" || { cat "$out" >&2; die "no WRK_RESULT in wrk output"; }
}

# Lines "rps p50 p99 non2xx errors" of several rounds -> the median of
# each of the first three columns, and the sums of the last two.
medians() {
    local lines column values=()
    lines=$(grep -v '^$')
    for column in 1 2 3; do
        values+=("$(cut -d' ' -f"$column" <<<"$lines" | sort -n |
            awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')")
    done
    awk -v m="${values[*]}" '{ bad += $4; err += $5 } END { print m, bad, err }' <<<"$lines"
}

ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }

RESULTS=()
WARNINGS=()
for name in $CASES; do
    for conns in $CONNECTIONS; do
        echo "== $(label "$name") at $conns connection(s): $ROUNDS rounds of ${DURATION}s per server, alternating" >&2
        ours_runs="" bare_runs=""
        for _ in $(seq 1 "$ROUNDS"); do
            ours_runs+="$(run_wrk "$name" "$PORT" "$conns")"$'\n'
            bare_runs+="$(run_wrk "$name" "$BARE_PORT" "$conns")"$'\n'
        done
        read -r o_rps o_p50 o_p99 o_bad o_err < <(medians <<<"$ours_runs")
        read -r b_rps b_p50 b_p99 b_bad b_err < <(medians <<<"$bare_runs")
        if [ "$o_bad" != 0 ] || [ "$o_err" != 0 ]; then
            WARNINGS+=("gpconnect-mock: $(label "$name") at $conns: $o_bad non-2xx answers, $o_err socket errors")
        fi
        if [ "$b_bad" != 0 ] || [ "$b_err" != 0 ]; then
            WARNINGS+=("bare-server: $(label "$name") at $conns: $b_bad non-2xx answers, $b_err socket errors")
        fi
        RESULTS+=("$name $conns $o_rps $o_p50 $o_p99 $b_rps $b_p50 $b_p99")
    done
done

# Peak RSS after the run, before the servers stop.
vmhwm() { awk '/^VmHWM:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "n/a"; }
OURS_HWM=$(vmhwm "$OURS_PID")
BARE_HWM=$(vmhwm "$BARE_PID")

# ---- report ----------------------------------------------------------------
echo
echo "benches/load.sh: wrk -t1 -cN -d${DURATION}s --latency, median of $ROUNDS alternating rounds, loopback, $(nproc 2>/dev/null || echo ?) cores, load average before the run ${LOAD_BEFORE}; ours = gpconnect-mock (default pack, $OURS_WORKERS), bare = bare-server (same bytes, $BARE_WORKERS_TEXT)"
printf '%-58s %5s | %9s %9s %9s | %9s %9s %9s | %7s %7s\n' \
    "case" "conns" "ours rps" "p50 ms" "p99 ms" "bare rps" "p50 ms" "p99 ms" "rps %" "p99 x"
for line in "${RESULTS[@]}"; do
    read -r name conns o_rps o_p50 o_p99 b_rps b_p50 b_p99 <<<"$line"
    ratio=$(awk -v o="$o_rps" -v b="$b_rps" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * o / b; else print "-" }')
    p99x=$(awk -v o="$o_p99" -v b="$b_p99" 'BEGIN { if (b > 0) printf "%.2fx", o / b; else print "-" }')
    printf '%-58s %5s | %9s %9s %9s | %9s %9s %9s | %7s %7s\n' "$(label "$name")" "$conns" \
        "$o_rps" "$(ms "$o_p50")" "$(ms "$o_p99")" "$b_rps" "$(ms "$b_p50")" "$(ms "$b_p99")" \
        "$ratio" "$p99x"
done
echo "startup (process start to first 200 on GET /fhir/metadata): gpconnect-mock ${OURS_STARTUP} ms, bare-server ${BARE_STARTUP} ms"
echo "peak RSS (VmHWM) after the run: gpconnect-mock $OURS_HWM, bare-server $BARE_HWM"
if [ ${#WARNINGS[@]} -gt 0 ]; then
    echo
    for warning in "${WARNINGS[@]}"; do
        echo "WARNING: $warning"
    done
    exit 1
fi
