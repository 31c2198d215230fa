-- A wrk script that replays the requests scripts/bench/wrk_runner.py wrote for one run.
--
--   wrk ... -s wrk_replay.lua URL -- DATA_DIR THREADS MODE RUN_ID UNIQUE_ID
--
-- DATA_DIR/requests.tsv holds one request a line: method, path, body, then "Name: value"
-- headers, separated by tabs. A body of "@name" is the binary file DATA_DIR/name; an empty one
-- is no body. Thread n of THREADS takes lines n+1, n+1+THREADS, ... so no two threads send the
-- same request. MODE "cycle" goes round its lines until the time is up; "once" sends each line
-- once (a claim or an update cannot be repeated) and stops the thread when the last answer is in.
--
-- UNIQUE_ID (a UUID), wherever it appears in a request, becomes a fresh UUID each time it is
-- sent: a create must carry a new Bundle.identifier, or the gateway replays the first answer.
-- RUN_ID (8 hex digits, new for each run) keeps those UUIDs apart from one run to the next.
--
-- Each request carries an X-Request-Id, which the gateway echoes: the answer is matched to its
-- request, and its latency measured as is. (wrk's own percentiles are "corrected for
-- coordinated omission": it adds made-up samples behind every slow answer, which would change
-- what p99 means from the Python client this replaced.)
--
-- done() writes DATA_DIR/latencies.txt (microseconds, one a line) and prints "bench:" lines
-- for wrk_runner.py: answers that were not 2xx (with the first few bodies), how far each thread
-- got in its lines, and, when every thread finished its lines, how long the useful work took.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]])

local CLOCK_MONOTONIC = 1
local SAMPLES_KEPT = 3
local IDLE_MS = 3600 * 1000  -- longer than any run

-- Globals, not locals: thread:set() and thread:get() reach only globals.
thread_index = 0
directory = nil
handed_out = 0
failures = 0
failure_samples = {}
latencies = {}
started_us = nil
finished_us = nil

local threads = {}
local requests = {}
local sent_at = {}
local sent = 0
local position = 0
local answered = 0
local cycle = true
local run_id = ""
local unique_id = nil

local function now_us()
   local now = ffi.new("bench_timespec")
   ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
   return tonumber(now.tv_sec) * 1e6 + tonumber(now.tv_nsec) / 1e3
end

local function read_binary(path)
   local file = assert(io.open(path, "rb"))
   local data = file:read("*a")
   file:close()
   return data
end

local function fields_of(line)
   local fields = {}
   for field in (line .. "\t"):gmatch("(.-)\t") do
      fields[#fields + 1] = field
   end
   return fields
end

-- The request as the text around where the request id goes (after the request line) and
-- around UNIQUE_ID, if it has one.
local function render(line)
   local fields = fields_of(line)
   local body = fields[3]
   if body == "" then
      body = nil
   elseif body:sub(1, 1) == "@" then
      body = read_binary(directory .. "/" .. body:sub(2))
   end
   local headers = {}
   for i = 4, #fields do
      local name, value = fields[i]:match("^([^:]+): (.*)$")
      headers[name] = value
   end
   local text = wrk.format(fields[1], fields[2], headers, body)
   local line_end = text:find("\r\n", 1, true) + 1
   local rendered = { start = text:sub(1, line_end) .. "X-Request-Id: ", rest = text:sub(line_end + 1) }
   local at = rendered.rest:find(unique_id, 1, true)
   if at then
      rendered.tail = rendered.rest:sub(at + #unique_id)
      rendered.rest = rendered.rest:sub(1, at - 1)
   end
   return rendered
end

-- Unique across runs, threads and requests; as long as UNIQUE_ID, so Content-Length holds.
local function fresh_id()
   return string.format("%s-%04d-4000-8000-%012d", run_id, thread_index, sent)
end

function setup(thread)
   thread:set("thread_index", #threads)
   threads[#threads + 1] = thread
end

function init(args)
   local thread_count
   directory, thread_count, cycle = args[1], tonumber(args[2]), args[3] == "cycle"
   run_id, unique_id = args[4], args[5]
   local number = 0
   for line in io.lines(directory .. "/requests.tsv") do
      if number % thread_count == thread_index then
         requests[#requests + 1] = render(line)
      end
      number = number + 1
   end
   if cycle then
      delay = nil -- wrk then skips the delay step for every request
   end
end

local function compose(chosen)
   sent = sent + 1
   sent_at[sent] = now_us()
   local id = string.format("%s-%d-%d\r\n", run_id, thread_index, sent)
   if chosen.tail then
      return chosen.start .. id .. chosen.rest .. fresh_id() .. chosen.tail
   end
   return chosen.start .. id .. chosen.rest
end

local function finish_if_done()
   if not cycle and not finished_us and answered >= #requests then
      finished_us = now_us()
      io.write("bench: finished\n")
      io.flush()
      wrk.thread:stop()
   end
end

-- "Once" runs only: before each request a connection takes the next line here, or, when none
-- is left, idles to the end, so the answers still on their way come in before the thread stops.
function delay()
   if handed_out < #requests then
      handed_out = handed_out + 1
      return 0
   end
   finish_if_done()
   return IDLE_MS
end

local checked = false

function request()
   -- wrk 4.1 calls request() once in thread 0 before the run, only to check that the request
   -- parses: that call must not use up a line.
   if thread_index == 0 and not checked then
      checked = true
      return #requests > 0 and compose(requests[1]) or wrk.format("GET", "/health")
   end
   started_us = started_us or now_us()
   if cycle then
      position = position % #requests + 1
   elseif position < handed_out then
      position = position + 1
   else
      -- Only after a reconnect, which skips delay(): no line is left for this connection.
      return wrk.format("GET", "/health")
   end
   return compose(requests[position])
end

function response(status, headers, body)
   answered = answered + 1
   local id = headers["x-request-id"]
   local number = id and tonumber(id:match("(%d+)$"))
   if number and sent_at[number] then
      latencies[#latencies + 1] = now_us() - sent_at[number]
      sent_at[number] = nil
   end
   if status < 200 or status > 299 then
      failures = failures + 1
      if #failure_samples < SAMPLES_KEPT then
         failure_samples[#failure_samples + 1] = status .. " " .. body:sub(1, 300):gsub("%s+", " ")
      end
   end
   finish_if_done()
end

function done(summary, latency, rates)
   local total, samples, first_start, last_stop, all_stopped = 0, {}, nil, 0, true
   local output = nil
   for _, thread in ipairs(threads) do
      output = output or assert(io.open(thread:get("directory") .. "/latencies.txt", "w"))
      for _, value in ipairs(thread:get("latencies")) do
         output:write(string.format("%d\n", value))
      end
      total = total + thread:get("failures")
      for _, sample in ipairs(thread:get("failure_samples")) do
         samples[#samples + 1] = sample
      end
      io.write(string.format("bench: handed_out %d %d\n", thread:get("thread_index"), thread:get("handed_out")))
      local started, stopped = thread:get("started_us"), thread:get("finished_us")
      if started and (not first_start or started < first_start) then
         first_start = started
      end
      if stopped then
         last_stop = math.max(last_stop, stopped)
      else
         all_stopped = false
      end
   end
   output:close()
   io.write(string.format("bench: failures %d\n", total))
   for i = 1, math.min(#samples, SAMPLES_KEPT) do
      io.write("bench: failure ", samples[i], "\n")
   end
   if all_stopped and first_start then
      io.write(string.format("bench: busy_us %d\n", last_stop - first_start))
   end
end
