-- wrk script for /wechat callbacks, as the WeChat server sends them.
--
--   wrk ... -s bench/wechat.lua URL -- plain DATA.lua MSGID_BASE
--       every request is a fresh plaintext text message: a new MsgId, the next bound clerk,
--       the next notice; the signed query string (timestamp, nonce, signature) is computed
--       once per run by run_all.py (the server runs with a wide timestamp window).
--   wrk ... -s bench/wechat.lua URL -- aes POOL.tsv OFFSET
--       safe mode: the bodies are encrypted in Python beforehand (one line per request:
--       path-with-msg_signature TAB body); each request takes the next line, from OFFSET on,
--       so every MsgId inside the ciphertext is fresh until the pool runs out (then it wraps,
--       and run_all.py reports how many requests were reuses that hit the dedupe path).
--
-- response() counts `success` replies (reply budget exceeded: the receipt is pushed later instead).
-- done() prints one line "BENCH_JSON {...}" that run_all.py reads.

local mode, path, create_time, msgid_base, users, notices, details, pool, offset
local counter = 0
local headers = { ["Content-Type"] = "text/xml" }
local thread_count = 0
local threads = {}
late = 0  -- replies "success": the server ran out of its reply budget and pushes the receipt later

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

function response(status, headers, body)
  if status == 200 and body == "success" then
    late = late + 1
  end
end

function init(args)
  mode = args[1]
  if mode == "plain" then
    local data = dofile(args[2])
    path, create_time, users, notices, details = data.path, data.create_time, data.users, data.notices, data.details
    msgid_base = tonumber(args[3]) + (tid or 0) * 1e9
  else
    pool = {}
    for line in io.lines(args[2]) do
      local tab = string.find(line, "\t", 1, true)
      pool[#pool + 1] = { string.sub(line, 1, tab - 1), string.sub(line, tab + 1) }
    end
    offset = tonumber(args[3] or "0")
  end
end

function request()
  counter = counter + 1
  if mode == "plain" then
    local user = users[counter % #users + 1]
    local n = #details  -- three details picked by the number, as run_all.notice() does
    local notice = string.format(notices[counter % #notices + 1], counter) .. details[(counter * 7) % n + 1] ..
      "," .. details[(counter * 13 + 5) % n + 1] .. "," .. details[(counter * 17 + 11) % n + 1] .. "。"
    local body = "<xml><ToUserName><![CDATA[gh_jianfu]]></ToUserName><FromUserName><![CDATA[" .. user ..
      "]]></FromUserName><CreateTime>" .. create_time .. "</CreateTime><MsgType><![CDATA[text]]></MsgType>" ..
      "<Content><![CDATA[" .. notice .. "]]></Content><MsgId>" .. string.format("%.0f", msgid_base + counter) ..
      "</MsgId></xml>"
    return wrk.format("POST", path, headers, body)
  end
  local entry = pool[(offset + counter - 1) % #pool + 1]
  return wrk.format("POST", entry[1], headers, entry[2])
end

function done(summary, latency, requests)
  local e = summary.errors
  local success = 0
  for _, thread in ipairs(threads) do
    success = success + (thread:get("late") or 0)
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "late": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, success,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
