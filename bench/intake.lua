-- wrk script for bench/intake.py: every request is a new 3-line order (POST /v1/orders).
--
-- Arguments (after `--`): <api key> <number of SKUs> <run tag>
-- Each thread numbers its own requests, so external ids ("B-<run>-<thread>-<n>") never collide.
-- done() prints one line, "INTAKE-RESULT {json}", that intake.py parses.

local threads = {}

-- Real US shipping addresses, one per region, so routing has a real choice of locations.
local addresses = {
  { "Ada Lovelace", "350 5th Ave", "New York", "NY", "10118" },
  { "Grace Hopper", "200 N Spring St", "Los Angeles", "CA", "90012" },
  { "Alan Turing", "233 S Wacker Dr", "Chicago", "IL", "60606" },
  { "Katherine Johnson", "1600 Pennsylvania Ave NW", "Washington", "DC", "20500" },
  { "Margaret Hamilton", "400 Broad St", "Seattle", "WA", "98109" },
  { "Edsger Dijkstra", "2100 Ross Ave", "Dallas", "TX", "75201" },
  { "Barbara Liskov", "1 Beacon St", "Boston", "MA", "02108" },
  { "Dennis Ritchie", "100 Peachtree St NW", "Atlanta", "GA", "30303" },
}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  api_key = args[1]
  sku_count = tonumber(args[2])
  run_tag = args[3]
  counter = 0
  created = 0 -- 201: a new order
  replayed = 0 -- 200: an external id seen before (should stay 0)
  failed = 0 -- anything else
  math.randomseed(os.time() * 1000 + thread_id)
  headers = {
    ["Authorization"] = "Bearer " .. api_key,
    ["Content-Type"] = "application/json",
  }
end

-- The unit price of SKU-n; intake.py seeds the catalog with the same rule.
local function price_of(n)
  return string.format("%d.99", 4 + n % 40)
end

local function three_distinct_skus()
  local picked, seen = {}, {}
  while #picked < 3 do
    local n = math.random(1, sku_count)
    if not seen[n] then
      seen[n] = true
      table.insert(picked, n)
    end
  end
  return picked
end

function request()
  counter = counter + 1
  local a = addresses[math.random(1, #addresses)]
  local lines = {}
  for i, n in ipairs(three_distinct_skus()) do
    lines[i] = string.format(
      '{"sku":"SKU-%04d","quantity":%d,"unit_price":"%s","discount":"0.00","tax":"1.60"}',
      n, math.random(1, 2), price_of(n)
    )
  end
  local body = string.format(
    '{"external_id":"B-%s-%d-%d","currency":"USD",'
      .. '"customer":{"name":"%s","email":"buyer%d@example.com","phone":"+1 212 555 0100"},'
      .. '"shipping_address":{"name":"%s","address1":"%s","city":"%s","region":"%s",'
      .. '"postal_code":"%s","country":"US"},'
      .. '"service_level":"standard","lines":[%s],"shipping_total":"5.00"}',
    run_tag, thread_id, counter, a[1], counter, a[1], a[2], a[3], a[4], a[5], table.concat(lines, ",")
  )
  return wrk.format("POST", "/v1/orders", headers, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 200 then
    replayed = replayed + 1
  else
    failed = failed + 1
    if failed <= 3 then
      io.stderr:write(string.format("non-2xx %d: %s\n", status, string.sub(body or "", 1, 300)))
    end
  end
end

function done(summary, latency, requests)
  local c, r, f = 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + (thread:get("created") or 0)
    r = r + (thread:get("replayed") or 0)
    f = f + (thread:get("failed") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'INTAKE-RESULT {"duration_us":%d,"requests":%d,"created":%d,"replayed":%d,"non_2xx":%d,'
      .. '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.duration, summary.requests, c, r, f,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean
  ))
end
