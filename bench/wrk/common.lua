-- Shared by the wrk scripts of bench/http.py (loaded with dofile from each of them).
--
-- * setup() numbers the threads (global `thread_index`, 0-based) so that each thread can make
--   tags of its own, and keeps them so that done() can read their counters.
-- * response() counts the responses whose status is not 2xx (global `non2xx`, per thread).
-- * done() prints one JSON line, the last line of wrk's output, for bench.py to parse:
--   {"requests", "duration_s", "non2xx", "socket_errors", "timeouts", "errors", "p50_ms",
--    "p99_ms", "mean_ms", "max_ms"}, where errors = non2xx + socket errors (connect, read,
--   write, timeout) and the latencies are wrk's (from the first byte written to the last byte
--   read of each request), converted from microseconds to milliseconds.

thread_index = 0
non2xx = 0

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("non2xx")
   end
   local e = summary.errors
   local socket = e.connect + e.read + e.write + e.timeout
   io.write(string.format(
      '{"requests":%d,"duration_s":%.6f,"non2xx":%d,"socket_errors":%d,"timeouts":%d,'
         .. '"errors":%d,"p50_ms":%.3f,"p99_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f}\n',
      summary.requests, summary.duration / 1e6, bad, socket, e.timeout, bad + socket,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
      latency.max / 1000
   ))
end

