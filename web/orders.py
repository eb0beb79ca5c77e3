"""The order service's HTTP API: order details from the table, topic scans."""

import logging

import faust
from aiohttp import web
from faust.web import Request, Response

from infra.kafka_metadata import UnknownTopic
from infra.reachability import DependencyUnavailable
from infra.topic_scan import ClientGone, NotScannable, ScanTimeout, TooManyScans, TopicScanner
from models.api import OrderDetailsOut, OrderDetailsQuery, TopicScanOut, TopicScanQuery
from web.health import tables_ready
from web.http import ApiView, json_response, read_query
from web.openapi import Operation
from web.owner_routing import OwnerRouter, OwnerUnavailable
from web.problems import Answer, InvalidInput, NotReady, UnknownOrder

logger = logging.getLogger(__name__)

#: nginx's status for a request whose client closed the connection first: logged
#: and counted, never received.
CLIENT_CLOSED_REQUEST = 499

ORDER_DETAILS = Operation(
    "getOrderDetails",
    "get",
    "/order-details",
    "An order with its shipping cost",
    response=OrderDetailsOut,
    success=Answer(200, "the order with its shippingCost (2% of totalAmount)"),
    causes=(InvalidInput, UnknownOrder, NotReady, OwnerUnavailable),
    query=OrderDetailsQuery,
)
TOPIC_SCAN = Operation(
    "getAllOrderIdsFromTopic",
    "get",
    "/getAllOrderIdsFromTopic",
    "Every orderId ever written to a topic (also written to the service's log)",
    response=TopicScanOut,
    success=Answer(200, "the distinct orderIds, in the order first seen"),
    causes=(
        InvalidInput,
        NotScannable,
        UnknownTopic,
        TooManyScans,
        DependencyUnavailable,
        ScanTimeout,
    ),
    query=TopicScanQuery,
)
ORDER_OPERATIONS = (ORDER_DETAILS, TOPIC_SCAN)


def register_order_views(
    app: faust.App,
    orders_by_id: faust.Table,
    owners: OwnerRouter,
    scanner: TopicScanner,
) -> None:
    @app.page(ORDER_DETAILS.path)
    class OrderDetailsView(ApiView):
        async def get(self, request: Request) -> Response:
            query = read_query(request, OrderDetailsQuery)
            if not tables_ready(app):
                raise NotReady("the order table is being recovered; try again shortly")
            # The worker that owns the key's partition answers; maybe us.
            owners_answer = await owners.answer_elsewhere(request, query.orderId)
            if owners_answer is not None:
                return owners_answer
            row = orders_by_id.get(query.orderId)
            if row is None:
                raise UnknownOrder(f"order {query.orderId} is not known (yet)")
            return json_response(OrderDetailsOut.of_row(row))

    @app.page(TOPIC_SCAN.path)
    class TopicOrderIdsView(ApiView):
        async def get(self, request: Request) -> Response:
            query = read_query(request, TopicScanQuery)
            try:
                scan = await scanner.scan(query.topicName, lambda: client_gone(request))
            except ClientGone as exc:
                logger.info("scan stopped", extra={"topic": query.topicName, "reason": str(exc)})
                return web.Response(status=CLIENT_CLOSED_REQUEST)
            return json_response(
                TopicScanOut(
                    topic=scan.topic,
                    orderIds=scan.order_ids,
                    count=len(scan.order_ids),
                    recordsScanned=scan.records_scanned,
                    recordsUnreadable=scan.records_unreadable,
                )
            )


def client_gone(request: web.Request) -> bool:
    """The client closed its connection (aiohttp does not cancel the handler then)."""
    transport = request.transport
    return transport is None or transport.is_closing()
