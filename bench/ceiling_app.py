"""The HTTP ceiling: the services' Faust app, from the same factory, with a no-op view.

``faust -A bench.ceiling_app worker``, started by the throughput scenario.
The same Faust, aiohttp, worker, options and middlewares as the services
(:func:`app.factory.create_app`), but no validation, no Kafka round trip: the
most a view of our app can answer on this machine with this load generator.
Faust starts its web server only as part of a worker connected to Kafka, so
it points at the bench broker.
"""

from faust.web import Request, Response
from pydantic_settings import SettingsConfigDict

from app.factory import create_app
from app.settings import ServiceSettings
from infra.metrics import ServiceMetrics
from web.http import ApiView

CEILING_ENV_PREFIX = "BENCH_CEILING_"


class CeilingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix=CEILING_ENV_PREFIX)

    app_id: str = "bench-ceiling"
    web_port: int = 8099


settings = CeilingSettings()
app = create_app(settings, settings.kafka_connection(), ServiceMetrics())


@app.page("/create-order")
class NoOp(ApiView):
    async def post(self, request: Request) -> Response:
        await request.read()  # the same body as a real create, read as a real view must
        return self.json({"status": "ok"}, status=201)


@app.page("/ready")
class Ready(ApiView):
    async def get(self, request: Request) -> Response:
        return self.json({"status": "ready"})
