-- wrk script: POST funding with a fresh Idempotency-Key per request, so
-- each request is one real posting (claim the key, post, store the reply).
-- All go to one program's cash and funding accounts: the hot-account case.
-- The program id and token come from the environment.
local program = os.getenv("BENCH_PROGRAM")
local token = os.getenv("BENCH_TOKEN")
local threads = 0

function setup(thread)
	thread:set("id", threads)
	threads = threads + 1
end

local n = 0
-- keys unique to this run too: a key seen before would be a replay, not a posting
local run = os.getenv("BENCH_RUN") or tostring(os.time())

request = function()
	n = n + 1
	return wrk.format("POST", "/v1/programs/" .. program .. "/funding", {
		["Authorization"] = "Bearer " .. token,
		["Content-Type"] = "application/json",
		["Idempotency-Key"] = "bench-" .. run .. "-" .. id .. "-" .. n,
	}, '{"amount_minor":1,"memo":"bench"}')
end
