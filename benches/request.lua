-- wrk script of benches/load.sh: sends one fixed request, built once per
-- thread, and prints a machine-readable summary at the end.
--
-- Environment:
--   BENCH_METHOD        GET or POST (default GET); the path comes from the URL
--   BENCH_HEADERS_FILE  file of "Name: value" lines (GP Connect headers, JWT)
--   BENCH_BODY_FILE     file whose bytes are the request body (optional)
--
-- done() prints one line:
--   WRK_RESULT <requests> <duration_us> <p50_us> <p99_us> <non2xx3xx> <socket_errors>

local function read_file(path)
  local file = assert(io.open(path, "rb"), "cannot open " .. path)
  local text = file:read("*a")
  file:close()
  return text
end

local method = os.getenv("BENCH_METHOD") or "GET"
local headers = {}
local headers_file = os.getenv("BENCH_HEADERS_FILE")
if headers_file and headers_file ~= "" then
  for line in io.lines(headers_file) do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      headers[name] = value
    end
  end
end
local body = nil
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  body = read_file(body_file)
end

local prepared = nil

function request()
  if prepared == nil then
    prepared = wrk.format(method, nil, headers, body)
  end
  return prepared
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d %d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
