-- wrk script for peak-throughput cells. The runner sets WRK_METHOD, WRK_BODY_FILE (the request
-- body, when the workload has one), WRK_HEADERS ("Name: value" lines) and WRK_PIPELINE (requests written back to back per connection before reading, HTTP/1.1
-- pipelining; 1 = none). done() prints one line the runner parses: totals and latency percentiles
-- in microseconds, including p95 which wrk's own --latency table lacks.
local method = os.getenv("WRK_METHOD") or "GET"
local body_file = os.getenv("WRK_BODY_FILE") or ""
local depth = tonumber(os.getenv("WRK_PIPELINE") or "1")
wrk.method = method
if body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
end
for name, value in string.gmatch(os.getenv("WRK_HEADERS") or "", "([^:\n]+):%s*([^\n]*)\n") do
  wrk.headers[name] = value
end

if depth > 1 then
  local batch = nil
  init = function(args)
    batch = string.rep(wrk.format(), depth)
  end
  request = function()
    return batch
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_REPORT {"schema":"wasm-bench/wrk-report/1","requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.3f,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency:percentile(99.9)))
end
