-- wrk script for bench/channels.py: replays requests built beforehand, one file per wrk thread.
--
-- Arguments (after `--`): <file prefix>. Thread n reads "<prefix>-<n>.txt": one request a line, fields
-- separated by tabs: the path, then "Name: value" headers, the body last (JSON on one line). Every request
-- is a POST. A thread that runs out of requests starts again from its first (answered as duplicates).
-- A request counts as created when answered 201 (POST /v1/orders) or 200 with "outcome":"created" (a
-- channel webhook). done() prints one line, "REPLAY-RESULT {json}", that channels.py parses.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do
    table.insert(fields, field)
  end
  return fields
end

function init(args)
  requests = {}
  for line in io.lines(args[1] .. "-" .. thread_id .. ".txt") do
    local fields = split(line)
    local headers = {}
    for i = 2, #fields - 1 do
      local name, value = string.match(fields[i], "^([^:]+): (.*)$")
      headers[name] = value
    end
    table.insert(requests, wrk.format("POST", fields[1], headers, fields[#fields]))
  end
  next_request = 0
  created = 0
  other_2xx = 0
  failed = 0
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function response(status, headers, body)
  if status == 201 or (status == 200 and string.find(body or "", '"outcome":"created"', 1, true)) then
    created = created + 1
  elseif status >= 200 and status < 300 then
    other_2xx = other_2xx + 1
  else
    failed = failed + 1
    if failed <= 3 then
      io.stderr:write(string.format("non-2xx %d: %s\n", status, string.sub(body or "", 1, 300)))
    end
  end
end

function done(summary, latency, requests)
  local c, o, f = 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + (thread:get("created") or 0)
    o = o + (thread:get("other_2xx") or 0)
    f = f + (thread:get("failed") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'REPLAY-RESULT {"duration_us":%d,"requests":%d,"created":%d,"other_2xx":%d,"non_2xx":%d,'
      .. '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.duration, summary.requests, c, o, f, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)
  ))
end
