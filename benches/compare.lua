-- wrk script of benches/compare.sh: GET / with a token taken in turn from the
-- file named by TOKENS_FILE. With STOP_AFTER=n, stops after n answers (one
-- pass over a file of distinct tokens, for the memory figure).
local tokens = {}
local next_token = 0
local answered = 0
local stop_after = tonumber(os.getenv("STOP_AFTER") or "0")
-- REPEAT=n sends each token n times in a row (a token enters clerk-guard's
-- cache on its second verification).
local repeat_each = tonumber(os.getenv("REPEAT") or "1")
local sent = 0

function init(args)
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
end

function request()
  if sent % repeat_each == 0 then next_token = next_token % #tokens + 1 end
  sent = sent + 1
  return wrk.format("GET", "/", { ["Authorization"] = "Bearer " .. tokens[next_token] })
end

function response(status, headers, body)
  answered = answered + 1
  if stop_after > 0 and answered == stop_after then
    -- wrk runs for its whole duration: tell the script the pass is done.
    local done = io.open(os.getenv("DONE_FILE"), "w")
    done:write("done\n")
    done:close()
    wrk.thread:stop()
  end
end
