"""The order service's HTTP API: order details from the table, topic scans."""

import faust
from aiohttp import web
from faust.web import Request, Response

from agents.version_waits import VersionWaits
from infra.kafka_metadata import UnknownTopic
from infra.reachability import DependencyUnavailable
from models.api import OrderDetailsOut, OrderDetailsQuery, TopicScanOut, TopicScanQuery
from web.health import tables_ready
from web.http import (
    ApiView,
    client_gone,
    etag,
    json_response,
    read_query,
    version_condition,
    while_client_waits,
)
from web.openapi import Operation
from web.owner_routing import OwnerRouter, OwnerUnavailable
from web.problems import Answer, InvalidInput, NotReady, UnknownOrder, VersionNotReached
from web.topic_scan import NotScannable, ScanTimeout, TooManyScans, TopicScanner

ORDER_DETAILS = Operation(
    "getOrderDetails",
    "get",
    "/order-details",
    "An order with its shipping cost",
    response=OrderDetailsOut,
    success=Answer(200, "the order with its shippingCost (2% of totalAmount)"),
    causes=(InvalidInput, UnknownOrder, NotReady, OwnerUnavailable, VersionNotReached),
    query=OrderDetailsQuery,
    headers={"If-None-Match": "the ETag held: 304 (no body) while the order is at it"},
    etag=True,
    not_modified=True,
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
    shipped_orders_by_id: faust.Table,
    owners: OwnerRouter,
    scanner: TopicScanner,
    version_waits: VersionWaits,
) -> None:
    def held_version(order_id: str) -> int:
        row = shipped_orders_by_id.get(order_id)
        return 0 if row is None else row.version

    @app.page(ORDER_DETAILS.path)
    class OrderDetailsView(ApiView):
        async def get(self, request: Request) -> Response:
            query = read_query(request, OrderDetailsQuery)
            if not tables_ready(app):
                raise NotReady("the order table is being recovered; try again shortly")
            details = self.details_of(request, query)
            if not query.waitMs:
                return await details
            # A read that may wait ends as soon as its client leaves.
            return await while_client_waits(request, details)

        async def details_of(self, request: Request, query: OrderDetailsQuery) -> Response:
            # The worker that owns the key's partition answers; maybe us.
            wait = query.waitMs / 1000
            owners_answer = await owners.answer_elsewhere(
                request, query.orderId, owners.deadline + wait
            )
            if owners_answer is not None:
                return owners_answer
            if query.minVersion is not None and not await version_waits.wait_for(
                query.orderId, query.minVersion, lambda: held_version(query.orderId), wait
            ):
                raise VersionNotReached(
                    f"order {query.orderId} is at version {held_version(query.orderId)}, "
                    f"not yet {query.minVersion}, after {query.waitMs} ms"
                )
            row = shipped_orders_by_id.get(query.orderId)
            if row is None:
                raise UnknownOrder(f"order {query.orderId} is not known (yet)")
            headers = {"ETag": etag(row.version)}
            condition = version_condition(request, "If-None-Match")
            if condition is not None and condition.holds_for(row.version):
                return web.Response(status=304, headers=headers)
            return json_response(OrderDetailsOut.of_row(row), headers=headers)

    @app.page(TOPIC_SCAN.path)
    class TopicOrderIdsView(ApiView):
        async def get(self, request: Request) -> Response:
            query = read_query(request, TopicScanQuery)
            scan = await scanner.scan(query.topicName, lambda: client_gone(request))
            return json_response(
                TopicScanOut(
                    topic=scan.topic,
                    orderIds=scan.order_ids,
                    count=len(scan.order_ids),
                    recordsScanned=scan.records_scanned,
                    recordsUnreadable=scan.records_unreadable,
                )
            )
