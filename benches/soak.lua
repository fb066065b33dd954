-- wrk script of the soak run: GET /me with a token taken in turn from the
-- file named by SOAK_TOKENS, counting answers by status.
local tokens = {}
local next_token = 0
c200, c401, c5xx, cother = 0, 0, 0, 0

function init(args)
  for line in io.lines(os.getenv("SOAK_TOKENS")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("GET", "/me", { ["Authorization"] = "Bearer " .. tokens[next_token] })
end

function response(status, headers, body)
  if status == 200 then c200 = c200 + 1
  elseif status == 401 then c401 = c401 + 1
  elseif status >= 500 then c5xx = c5xx + 1
  else cother = cother + 1 end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
  local t = { c200 = 0, c401 = 0, c5xx = 0, cother = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(t) do t[name] = t[name] + thread:get(name) end
  end
  local e = summary.errors
  io.write(string.format("COUNTS 200=%d 401=%d 5xx=%d other=%d socket_errors=%d\n",
    t.c200, t.c401, t.c5xx, t.cother, e.connect + e.read + e.write + e.timeout))
end
