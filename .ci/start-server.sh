# Sourced by the CI steps that need a running mock: builds the debug binary,
# starts `serve --port 0 --no-watch` with the default pack, logs into $1,
# kills it on exit, and sets $base to its address (or exits 1, loudly).
start_server() {
  local out=$1
  cargo build --locked --quiet
  mkdir -p "$out"
  "${CARGO_TARGET_DIR:-target}"/debug/gpconnect-mock serve --port 0 --no-watch >"$out/server.out" 2>"$out/server.err" &
  server=$!
  trap 'kill "$server" 2>/dev/null || true' EXIT
  base=""
  for _ in $(seq 1 100); do
    base=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$out/server.out")
    [ -n "$base" ] && break
    if ! kill -0 "$server" 2>/dev/null; then
      echo "the server exited:" >&2
      cat "$out/server.err" >&2
      exit 1
    fi
    sleep 0.2
  done
  if [ -z "$base" ]; then
    echo "the server did not start listening" >&2
    exit 1
  fi
  echo "server at $base"
}
