-- wrk script for /wechat callbacks, as the WeChat server sends them.
--
--   wrk ... -s bench/wechat.lua URL -- plain DATA.lua MSGID_BASE
--       every request is a fresh plaintext text message: a new MsgId, the next bound clerk,
--       the next notice, and signed afresh as WeChat signs it: the current timestamp, a nonce
--       of its own (never used before: the server remembers nonces and refuses a signed URL
--       that comes back with another body) and sha1(sorted(token, timestamp, nonce)).
--   wrk ... -s bench/wechat.lua URL -- aes POOL.txt OFFSET DATA.lua RUN_BASE
--       safe mode: the bodies are encrypted in Python beforehand (one Encrypt value a line, AES is
--       too slow for Lua) and signed here, afresh for every request like the plaintext ones: the
--       current timestamp, a nonce never used before, signature and
--       msg_signature = sha1(sorted(token, timestamp, nonce, Encrypt)). Each request takes the next
--       line from OFFSET on, so every MsgId inside the ciphertext is fresh until the pool runs out
--       (then it wraps: a wrapped line is a retry of an answered message under a newly signed URL,
--       which the dedupe path answers; run_all.py reports how many requests were reuses).
--
-- response() counts `success` replies (reply budget exceeded: the receipt is pushed later instead).
-- done() prints one line "BENCH_JSON {...}" that run_all.py reads.

local bit = require("bit")
local band, bor, bxor, bnot, rol, lshift, rshift, tobit, tohex =
  bit.band, bit.bor, bit.bxor, bit.bnot, bit.rol, bit.lshift, bit.rshift, bit.tobit, bit.tohex

-- SHA-1 (FIPS 180-4) for the short strings WeChat signs (a wrong digest would make every answer a 403,
-- counted under non2xx in the table).
function sha1(msg)
  local h0, h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0
  local bits = #msg * 8
  msg = msg .. "\128" .. string.rep("\0", (55 - #msg) % 64) .. string.char(0, 0, 0, 0,
    band(rshift(bits, 24), 255), band(rshift(bits, 16), 255), band(rshift(bits, 8), 255), band(bits, 255))
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do
      local a, b, c, d = string.byte(msg, chunk + i * 4, chunk + i * 4 + 3)
      w[i] = bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d)
    end
    for i = 16, 79 do w[i] = rol(bxor(w[i - 3], w[i - 8], w[i - 14], w[i - 16]), 1) end
    local a, b, c, d, e = h0, h1, h2, h3, h4
    for i = 0, 79 do
      local f, k
      if i < 20 then f, k = bor(band(b, c), band(bnot(b), d)), 0x5A827999
      elseif i < 40 then f, k = bxor(b, c, d), 0x6ED9EBA1
      elseif i < 60 then f, k = bor(band(b, c), band(b, d), band(c, d)), 0x8F1BBCDC
      else f, k = bxor(b, c, d), 0xCA62C1D6 end
      a, b, c, d, e = tobit(rol(a, 5) + f + e + k + w[i]), a, rol(b, 30), c, d
    end
    h0, h1, h2, h3, h4 = tobit(h0 + a), tobit(h1 + b), tobit(h2 + c), tobit(h3 + d), tobit(h4 + e)
  end
  return tohex(h0) .. tohex(h1) .. tohex(h2) .. tohex(h3) .. tohex(h4)
end

-- sha1 of the sorted, concatenated parts: WeChat's signature
function sign(...)
  local parts = { ... }
  table.sort(parts)
  return sha1(table.concat(parts))
end

-- the query string of one request, signed afresh: now, a nonce never used before, its signature
-- (and in safe mode the msg_signature over the Encrypt value as well)
function signed_path(base, token, nonce, encrypt)
  local timestamp = tostring(os.time())
  local path = base .. "?signature=" .. sign(token, timestamp, nonce) .. "&timestamp=" .. timestamp .. "&nonce=" ..
    nonce .. "&openid=o"
  if encrypt then
    path = path .. "&encrypt_type=aes&msg_signature=" .. sign(token, timestamp, nonce, encrypt)
  end
  return path
end

local mode, path, token, nonce_prefix, create_time, msgid_base, users, notices, details, pool, offset
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
    path, token, create_time, users, notices, details = data.path, data.token, data.create_time, data.users,
      data.notices, data.details
    msgid_base = tonumber(args[3]) + (tid or 0) * 1e9
    nonce_prefix = args[3] .. (tid or 0)  -- a run's MsgId base is its own, so are its nonces
  else
    pool = {}
    for line in io.lines(args[2]) do
      pool[#pool + 1] = line
    end
    offset = tonumber(args[3] or "0")
    local data = dofile(args[4])
    path, token = data.path, data.token
    nonce_prefix = "a" .. args[5] .. (tid or 0)  -- each run's nonces are its own
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
    return wrk.format("POST", signed_path(path, token, nonce_prefix .. counter), headers, body)
  end
  local encrypt = pool[(offset + counter - 1) % #pool + 1]
  local body = "<xml><ToUserName><![CDATA[gh_jianfu]]></ToUserName><Encrypt><![CDATA[" .. encrypt ..
    "]]></Encrypt></xml>"
  return wrk.format("POST", signed_path(path, token, nonce_prefix .. counter, encrypt), headers, body)
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
