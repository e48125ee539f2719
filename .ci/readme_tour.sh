#!/usr/bin/env bash
# Runs the README's tour and appointment journey, as written, against a
# fresh server (the debug build, default pack, a free port). Fails loudly,
# naming the README block and line, when a command fails or a request is
# answered with another status than the README states.
#
# Rules (keep the README to them):
# - Every ```sh block from "## A five-minute tour" up to "## Admin API", and
#   of the sections "## Versions, ETags and Prefer" and "## Postman", is run,
#   in order, each in its own `bash -euo pipefail`, from the checkout's
#   root, with GPC_MOCK set to the server (docs/examples/gpc.sh reads it)
#   and the debug build first on PATH (as if `cargo install --path .`).
# - A block right after a line starting `<!-- not run` is skipped (the
#   `serve` the reader starts in another terminal: this script starts its own).
# - `http://127.0.0.1:8080` in a block is replaced by the server's address.
# - A line whose comment starts with a status (`… | sh   # 201, Location`)
#   states the status of the one request it sends to the API. When a block
#   has such lines, the statuses of the API requests it made (from the
#   journal; admin requests are not journalled) must be exactly those, in
#   order. Blocks without them (newman, reset) are checked by exit code.
# - npm is needed for the newman step (installed as .ci/newman.sh does).
#
#   bash .ci/readme_tour.sh          # as CI runs it
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=.ci/out/readme
rm -rf "$OUT"
mkdir -p "$OUT"

if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi

# The blocks, one file each, and their expected statuses.
python3 - "$OUT" <<'PY'
import re, sys, pathlib
out = pathlib.Path(sys.argv[1])
lines = open("README.md", encoding="utf-8").read().split("\n")
def heading(title):
    return next(i for i, l in enumerate(lines) if l.startswith("## " + title))
def section(title):
    start = heading(title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return range(start, end)
# The README's parts that talk to a running server, in README order.
ranges = [
    range(heading("A five-minute tour"), heading("Admin API")),
    section("Versions, ETags and Prefer"),
    section("Postman"),
]
wanted = sorted(set(i for r in ranges for i in r))
n, skip = 0, False
k = 0
while k < len(wanted):
    i = wanted[k]
    line = lines[i]
    if line.startswith("<!-- not run"):
        skip = True
    elif line.strip() == "```sh":
        first = i + 1
        j = first
        while lines[j].strip() != "```":
            j += 1
        body = lines[first:j]
        if skip:
            print(f"skipped README.md:{first} ({body[0].strip()})", file=sys.stderr)
        else:
            n += 1
            text = "\n".join(body) + "\n"
            (out / f"block-{n}.sh").write_text(text)
            (out / f"block-{n}.line").write_text(str(first))
            statuses = [m.group(1) for l in body for m in [re.search(r"\s#\s+(\d{3})\b", l)] if m]
            (out / f"block-{n}.expect").write_text(" ".join(statuses))
        skip = False
        while k < len(wanted) and wanted[k] <= j:
            k += 1
        continue
    elif line.strip():
        skip = False
    k += 1
if n == 0:
    sys.exit("no ```sh blocks found in the README's tour")
print(f"{n} README blocks to run", file=sys.stderr)
PY

. "$(dirname "$0")/start-server.sh"
start_server "$OUT"
export GPC_MOCK="$base"
bin_dir=${CARGO_TARGET_DIR:-target}/debug
case $bin_dir in /*) ;; *) bin_dir="$(pwd)/$bin_dir" ;; esac
export PATH="$bin_dir:$PATH"

journal_statuses() {
  curl -sSf "$base/__admin/requests?limit=100000" | python3 -c '
import json, sys
entries = json.load(sys.stdin)["requests"]
print(" ".join(str(e["status"]) for e in reversed(entries)))
print(" ".join(e["method"] + " " + e["path"] for e in reversed(entries)), file=sys.stderr)'
}

count=$(ls "$OUT"/block-*.line | wc -l)
for n in $(seq 1 "$count"); do
  block="$OUT/block-$n.run.sh"
  sed "s#http://127.0.0.1:8080#$base#g" "$OUT/block-$n.sh" >"$block"
  line=$(cat "$OUT/block-$n.line")
  expect=$(cat "$OUT/block-$n.expect")
  printf '\n==> README.md:%s (block %s of %s)\n' "$line" "$n" "$count"
  sed 's/^/    /' "$block"
  curl -sSf -X DELETE "$base/__admin/requests" >/dev/null
  if ! timeout 600 bash -euo pipefail "$block" >"$OUT/block-$n.out" 2>&1; then
    cat "$OUT/block-$n.out" >&2
    echo >&2
    echo "README block at README.md:$line FAILED (its output is above; server log: $OUT/server.err)" >&2
    exit 1
  fi
  tail -c 2000 "$OUT/block-$n.out"
  echo
  if [ -n "$expect" ]; then
    actual=$(journal_statuses 2>"$OUT/block-$n.requests")
    if [ "$actual" != "$expect" ]; then
      echo >&2
      echo "README block at README.md:$line: the README states statuses [$expect], the mock answered [$actual]" >&2
      echo "requests: $(cat "$OUT/block-$n.requests")" >&2
      exit 1
    fi
    echo "    statuses as stated: $actual"
  fi
done
echo
echo "README tour: $count blocks ran as written"
