"""The order service's HTTP API: order details from the table, topic scans."""

import faust
from faust.exceptions import SameNode
from faust.web import Request, Response

from infra.kafka_metadata import UnknownTopic
from infra.reachability import DependencyUnavailable
from infra.topic_scan import ScanTimeout, TopicScanner
from models.api import OrderDetailsOut, OrderDetailsQuery, TopicScanOut, TopicScanQuery
from web.health import Readiness
from web.http import ApiView, json_response, read_query
from web.openapi import Operation
from web.problems import Answer, InvalidInput, NotReady, UnknownOrder

ORDER_DETAILS = Operation(
    "getOrderDetails",
    "get",
    "/order-details",
    "An order with its shipping cost",
    response=OrderDetailsOut,
    success=Answer(200, "the order with its shippingCost (2% of totalAmount)"),
    causes=(InvalidInput, UnknownOrder, NotReady),
    query=OrderDetailsQuery,
)
TOPIC_SCAN = Operation(
    "getAllOrderIdsFromTopic",
    "get",
    "/getAllOrderIdsFromTopic",
    "Every orderId ever written to a topic (also written to the service's log)",
    response=TopicScanOut,
    success=Answer(200, "the distinct orderIds, in the order first seen"),
    causes=(InvalidInput, UnknownTopic, DependencyUnavailable, ScanTimeout),
    query=TopicScanQuery,
)
ORDER_OPERATIONS = (ORDER_DETAILS, TOPIC_SCAN)


def register_order_views(
    app: faust.App, orders_by_id: faust.Table, readiness: Readiness, scanner: TopicScanner
) -> None:
    @app.page(ORDER_DETAILS.path)
    class OrderDetailsView(ApiView):
        async def get(self, request: Request) -> Response:
            query = read_query(request, OrderDetailsQuery)
            if not readiness.tables_ready():
                raise NotReady("the order table is being recovered; try again shortly")
            try:
                # The worker that owns the key's partition answers; maybe us.
                return await app.router.route_req(
                    orders_by_id.name, query.orderId, self.web, request
                )
            except SameNode:
                pass
            row = orders_by_id.get(query.orderId)
            if row is None:
                raise UnknownOrder(f"order {query.orderId} is not known (yet)")
            return json_response(OrderDetailsOut.of_row(row))

    @app.page(TOPIC_SCAN.path)
    class TopicOrderIdsView(ApiView):
        async def get(self, request: Request) -> Response:
            query = read_query(request, TopicScanQuery)
            scan = await scanner.scan(query.topicName)
            return json_response(
                TopicScanOut(
                    topic=scan.topic,
                    orderIds=scan.order_ids,
                    count=len(scan.order_ids),
                    recordsScanned=scan.records_scanned,
                )
            )
