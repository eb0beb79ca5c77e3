-- POST /create-order for the bench's wrk scenario (bench/wrk.py), each orderId unique:
-- "<run prefix>-<thread>-<n>", the prefix given after "--" on wrk's command line.
-- wrk runs setup and done in its main Lua state, init and request in each thread's.

local threads = {}

function setup(thread)
   thread:set("thread_number", #threads)
   table.insert(threads, thread)
end

function init(args)
   prefix = args[1]
   sent = 0
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   sent = sent + 1
   local order_id = string.format("%s-%d-%d", prefix, thread_number, sent)
   return wrk.format(nil, nil, nil, '{"orderId": "' .. order_id .. '", "numItems": 3}')
end

-- One line for bench/wrk.py to parse: exact counts, and latencies in microseconds.
-- "status" counts answers of 400 and above: wrk's own tally of failed statuses.
function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      "bench-wrk requests=%d duration_us=%d p50_us=%d p99_us=%d"
         .. " connect=%d read=%d write=%d timeout=%d status=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      errors.connect, errors.read, errors.write, errors.timeout, errors.status
   ))
end
