-- Replays pre-generated WeCom callbacks (bench/callback_requests_bench output: one request per
-- line, "<target>\t<body>") once each, in file order. Each wrk thread takes a disjoint slice:
-- thread k of n sends lines k+1, k+1+n, k+1+2n, ... so no request is sent twice in a run.
--
--   wrk -t1 -c64 -d10s --latency -s bench/wrk/callback.lua http://127.0.0.1:PORT -- FILE [THREADS]
--
-- THREADS must equal wrk's -t (default 1); done() reports a mismatch as an error.
-- When a thread runs out of lines it stops and sends "GET /bench-exhausted" on connections
-- that still ask for a request, so exhaustion shows up as non-200 responses, never as repeats.
-- done() prints the usual figures and one machine-readable line starting with "BENCH ".

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local file = args[1]
   if not file then
      error("callback.lua: pass the request file after --: ... -- FILE [THREADS]")
   end
   nthreads = tonumber(args[2] or "1")
   requests = {}
   -- What wrk.format("POST", target, {["Content-Type"] = "text/xml"}, body) builds, written out
   -- because it loads a million lines about twice as fast.
   local host = wrk.headers["Host"] or wrk.host
   if wrk.port and wrk.port ~= "" and not string.find(host, ":", 1, true) then host = host .. ":" .. wrk.port end
   local head = "\r\nHost: " .. host .. "\r\nContent-Type: text/xml\r\nContent-Length: "
   local i = 0
   for line in io.lines(file) do
      if i % nthreads == id then
         local tab = string.find(line, "\t", 1, true)
         if not tab then
            error("callback.lua: line " .. (i + 1) .. " of " .. file .. " has no tab")
         end
         local body = string.sub(line, tab + 1)
         requests[#requests + 1] =
            "POST " .. string.sub(line, 1, tab - 1) .. " HTTP/1.1" .. head .. #body .. "\r\n\r\n" .. body
      end
      i = i + 1
   end
   loaded = #requests
   nexti = 1
   sent = 0
   ok = 0
   non200 = 0
   exhausted = 0
   first_bad_status = 0
end

function request()
   if nexti > loaded then
      exhausted = exhausted + 1
      wrk.thread:stop()
      return wrk.format("GET", "/bench-exhausted", {}, nil)
   end
   local r = requests[nexti]
   requests[nexti] = nil
   nexti = nexti + 1
   sent = sent + 1
   return r
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   else
      non200 = non200 + 1
      if first_bad_status == 0 then first_bad_status = status end
   end
end

function done(summary, latency, requests)
   local t = { loaded = 0, sent = 0, ok = 0, non200 = 0, exhausted = 0, first_bad_status = 0 }
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do
         local v = thread:get(k) or 0
         if k == "first_bad_status" then
            if t[k] == 0 then t[k] = v end
         else
            t[k] = t[k] + v
         end
      end
   end
   local expected_threads = threads[1] and threads[1]:get("nthreads") or 1
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local socket_errors = e.connect + e.read + e.write + e.timeout
   io.write(string.format("callbacks acknowledged (200): %d in %.2f s = %.0f/s\n", t.ok, seconds, t.ok / seconds))
   io.write(string.format("latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
   io.write(string.format("requests loaded %d, sent %d; non-200 responses %d; socket errors %d " ..
      "(connect %d, read %d, write %d, timeout %d)\n",
      t.loaded, t.sent, t.non200, socket_errors, e.connect, e.read, e.write, e.timeout))
   if t.non200 > 0 then
      io.write(string.format("ERROR: %d responses were not 200 (first status %d)\n", t.non200, t.first_bad_status))
   end
   if t.exhausted > 0 then
      io.write("ERROR: the request file ran out; generate more requests for this duration\n")
   end
   if #threads ~= expected_threads then
      io.write(string.format("ERROR: wrk ran %d threads but the script was told %d\n", #threads, expected_threads))
   end
   io.write(string.format(
      "BENCH ok=%d non200=%d socket_errors=%d sent=%d loaded=%d exhausted=%d seconds=%.3f rate=%.0f " ..
      "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f threads=%d\n",
      t.ok, t.non200, socket_errors, t.sent, t.loaded, t.exhausted, seconds, t.ok / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, #threads))
end
