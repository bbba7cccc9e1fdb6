-- wrk script: POSTs a seed-like mix of actions, each with a unique id, to acteon serve (or the
-- bare server the HTTP benchmark compares it with).
--   wrk -t2 -c64 -d10s --latency -s benches/http/dispatch.lua http://127.0.0.1:PORT
-- ACTEON_BATCH=N sends arrays of N actions to /v1/dispatch/batch instead of one per request.
-- The mix, per 20 actions: 8 normal temperature readings, 2 critical ones, 3 humidity, 2 energy,
-- 1 intrusion, 1 device lifecycle event, 1 unsigned firmware update, 1 test device, 1 normal
-- reading with a dedup key; as the seed's telemetry, all of tenant smartbuilding-hq.

local batch = tonumber(os.getenv("ACTEON_BATCH") or "0")
local path = batch > 0 and "/v1/dispatch/batch" or "/v1/dispatch"
local headers = { ["Content-Type"] = "application/json" }

local threads = 0
function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local envelope = '{"id":"%s","namespace":"iot","tenant":"smartbuilding-hq","provider":"%s",'
  .. '"action_type":"%s","payload":%s,"metadata":{"source":"wrk"}%s}'

local function reading(device, kind, value, unit, floor)
  return string.format(
    '{"device_id":"%s","sensor_type":"%s","value":%d,"unit":"%s","floor":"%d"}',
    device, kind, value, unit, floor)
end

local n = 0

-- One action of the mix, the n-th this thread sends.
local function action()
  n = n + 1
  local id = string.format("wrk-%d-%d", thread_index or 0, n)
  local slot = n % 20
  local device = n % 500
  local floor = n % 8 + 1
  local provider, action_type, payload, extra = "metrics-queue", "sensor_reading", nil, ""
  if slot < 8 then
    payload = reading("temp-sensor-" .. device, "temperature", 18 + n % 10, "celsius", floor)
  elseif slot < 10 then
    payload = reading("temp-sensor-" .. device, "temperature", 86 + n % 20, "celsius", floor)
  elseif slot < 13 then
    payload = reading("humid-sensor-" .. device, "humidity", 30 + n % 50, "percent", floor)
  elseif slot < 15 then
    payload = reading("energy-meter-" .. device, "energy", 200 + n % 800, "kwh", floor)
  elseif slot == 15 then
    provider = "alert-fanout"
    payload = string.format(
      '{"device_id":"motion-sensor-%d","sensor_type":"motion","event":"intrusion","floor":"%d","zone":"lobby"}',
      device, floor)
  elseif slot == 16 then
    action_type = "device_lifecycle"
    payload = string.format(
      '{"device_id":"temp-sensor-%d","event":"online","firmware_version":"3.2.1","uptime_seconds":0}',
      device)
  elseif slot == 17 then
    action_type = "firmware_update"
    payload = string.format(
      '{"device_id":"temp-sensor-%d","version":"3.3.0","signed":false,"size_bytes":1048576}', device)
  elseif slot == 18 then
    payload = string.format(
      '{"device_id":"test-sensor-%d","sensor_type":"temperature","value":99,"floor":"0","environment":"test"}',
      device)
  else
    payload = reading("temp-sensor-" .. device, "temperature", 25, "celsius", floor)
    extra = string.format(',"dedup_key":"temp-sensor-%d-reading"', device)
  end
  return string.format(envelope, id, provider, action_type, payload, extra)
end

function request()
  local body
  if batch > 0 then
    local actions = {}
    for i = 1, batch do
      actions[i] = action()
    end
    body = "[" .. table.concat(actions, ",") .. "]"
  else
    body = action()
  end
  return wrk.format("POST", path, headers, body)
end
