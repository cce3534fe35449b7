-- Conditional appends for bench/http.py:
--     wrk ... -s bench/wrk/append.lua URL -- RUN_ID [EVENTS]
-- Each request is POST /v1/events with EVENTS events (default 1), each carrying a tag never used
-- before, bench:RUN_ID-THREAD-N[-K] (RUN_ID is unique per wrk run, THREAD the wrk thread, N that
-- thread's request counter, K the event within the request when EVENTS > 1), and the condition
-- {"fail_if_events_match": {"items": [{"tags": [<the first event's tag>]}]}, "after": null}:
-- every append checks a condition and succeeds (201).

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prefix
local events = 1
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
   local run_id = args[1] or error("append.lua: pass a run id after --")
   events = tonumber(args[2] or "1")
   prefix = "bench:" .. run_id .. "-" .. thread_index .. "-"
end

local function event(n, tag)
   return '{"type":"Benchmarked","data":{"n":' .. n .. '},"tags":["' .. tag .. '"]}'
end

function request()
   counter = counter + 1
   local first = prefix .. counter
   local body
   if events == 1 then
      body = event(counter, first)
   else
      local parts = {}
      for k = 1, events do
         parts[k] = event(counter, first .. "-" .. k)
      end
      first = first .. "-1"
      body = table.concat(parts, ",")
   end
   body = '{"events":[' .. body .. '],"condition":{"fail_if_events_match":{"items":[{"tags":["'
      .. first .. '"]}]},"after":null}}'
   return wrk.format("POST", "/v1/events", headers, body)
end
