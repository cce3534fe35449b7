-- One-tag reads for bench/http.py:
--     wrk ... -s bench/wrk/read.lua URL -- TAGS
-- Each request is GET /v1/events?tag=reader:N, N cycling over 0 .. TAGS-1 (the tags of the
-- filled store, ten events each); each thread starts at its own offset.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local tags
local counter = 0

function init(args)
   tags = tonumber(args[1] or error("read.lua: pass the number of reader tags after --"))
   counter = (thread_index * 7919) % tags
end

function request()
   local n = counter
   counter = (counter + 1) % tags
   return wrk.format("GET", "/v1/events?tag=reader:" .. n)
end
