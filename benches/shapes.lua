-- wrk script of benches/shapes.sh: GET $ROUTE with a token taken in turn
-- from the file named by TOKENS_FILE (one token: the same every request).
local tokens = {}
local next_token = 0
local route = os.getenv("ROUTE")

function init(args)
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("GET", route, { ["Authorization"] = "Bearer " .. tokens[next_token] })
end
