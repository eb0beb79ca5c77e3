"""The order service's HTTP API: order details from the table, topic scans."""

import asyncio
import logging
import re

import faust
from faust.exceptions import SameNode
from faust.web import Request, Response

from infra.reachability import DependencyUnavailable, Reachability
from infra.topic_scan import TopicScanner
from models.api import TopicScanOut
from models.state import ShippedOrder
from models.wire import IDENTIFIER
from web.health import Readiness
from web.http import ApiView, json_response, query_param
from web.problems import HttpProblem

logger = logging.getLogger(__name__)

#: Kafka's own rule for topic names.
TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
LOG_CHUNK = 200


def order_details(row: ShippedOrder) -> dict:
    return {**row.order.to_wire(), "shippingCost": row.shippingCost}


def register_order_views(
    app: faust.App,
    orders_by_id: faust.Table,
    kafka: Reachability,
    readiness: Readiness,
    scanner: TopicScanner,
) -> None:
    @app.page("/order-details")
    class OrderDetailsView(ApiView):
        async def get(self, request: Request) -> Response:
            order_id = query_param(request, "orderId")
            if not IDENTIFIER.fullmatch(order_id):
                raise HttpProblem(400, "orderId must be 1..64 chars of [A-Za-z0-9._:-]")
            if not readiness.tables_ready():
                raise HttpProblem(503, "the order table is being recovered; try again shortly")
            try:
                # The worker that owns the key's partition answers; maybe us.
                return await app.router.route_req(orders_by_id.name, order_id, self.web, request)
            except SameNode:
                pass
            row = orders_by_id.get(order_id)
            if row is None:
                raise HttpProblem(404, f"order {order_id} is not known (yet)")
            return json_response(order_details(row))

    @app.page("/getAllOrderIdsFromTopic")
    class TopicOrderIdsView(ApiView):
        async def get(self, request: Request) -> Response:
            topic = query_param(request, "topicName")
            if not TOPIC_NAME.fullmatch(topic) or topic in {".", ".."}:
                raise HttpProblem(400, "topicName is not a valid Kafka topic name")
            if topic.startswith("__"):
                raise HttpProblem(400, f"{topic} is a Kafka-internal topic")
            if not kafka.reachable:
                raise DependencyUnavailable("Kafka is not reachable")
            try:
                scan = await asyncio.wait_for(scanner.scan(topic), scanner.timeout)
            except TimeoutError:
                raise HttpProblem(
                    504, f"the scan of {topic} did not finish in {scanner.timeout:g} s"
                ) from None
            # Every id is logged, LOG_CHUNK to a line: a line per id blocked the
            # service for seconds on a large topic.
            for start in range(0, len(scan.order_ids), LOG_CHUNK):
                chunk = scan.order_ids[start : start + LOG_CHUNK]
                logger.info("topic %s holds orderIds: %s", topic, " ".join(chunk))
                await asyncio.sleep(0)
            logger.info(
                "topic %s: %d distinct orderIds in %d records",
                topic,
                len(scan.order_ids),
                scan.records_scanned,
            )
            result = TopicScanOut(
                topic=topic,
                orderIds=scan.order_ids,
                count=len(scan.order_ids),
                recordsScanned=scan.records_scanned,
            )
            return json_response(result.model_dump())
