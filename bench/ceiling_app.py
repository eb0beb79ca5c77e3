"""The HTTP ceiling: a bare Faust app whose ``POST /create-order`` does nothing.

``faust -A bench.ceiling_app worker``, started by the throughput scenario.
Same Faust, aiohttp and worker as the services, but no middleware, no
validation, no Kafka round trip: the most a Faust web view can answer on this
machine with this load generator.  Faust starts its web server only as part
of a worker connected to Kafka, so it points at the bench broker.
"""

import os

import faust
from faust.web import Request, Response, View

app = faust.App(
    "bench-ceiling",
    broker=f"kafka://{os.environ['BENCH_CEILING_BROKER']}",
    env_prefix="BENCH_CEILING_FAUST_",
    autodiscover=False,
    store="memory://",
    datadir=os.environ["BENCH_CEILING_DATA_DIR"],
    web_bind="127.0.0.1",
    web_port=int(os.environ["BENCH_CEILING_PORT"]),
    topic_replication_factor=1,
    web_tables_enabled=False,
    web_graph_enabled=False,
    web_router_enabled=False,
    web_stats_enabled=False,
    web_metrics_enabled=False,
)


@app.page("/create-order")
class NoOp(View):
    async def post(self, request: Request) -> Response:
        await request.read()  # the same body as a real create, read as a real view must
        return self.json({"status": "ok"}, status=201)


@app.page("/ready")
class Ready(View):
    async def get(self, request: Request) -> Response:
        return self.json({"status": "ready"})
