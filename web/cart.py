"""The cart's HTTP API: translate requests into commands, replies into responses."""

import random
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import faust
from aiohttp import web
from faust.web import Request, Response

from infra.command_gateway import NoReplyInTime
from infra.reachability import DependencyUnavailable
from models.api import CreateOrderRequest, OrderOut, UpdateOrderRequest
from models.commands import CommandReply, CommandType, OrderCommand, Outcome
from models.order import Order, OrderItem, items_total
from models.status import OrderStatus
from models.wire import utc_now
from web.http import ApiView, json_response, read_json
from web.openapi import Operation
from web.problems import InvalidInput, Rejected, UnsupportedBody, answer_for

#: Whatever a write can meet besides the rule's own outcomes.
WRITE_FAILURES = (
    Outcome.UNREADABLE,
    Outcome.OWNERSHIP_UNCONFIRMED,
    InvalidInput,
    UnsupportedBody,
    web.HTTPRequestEntityTooLarge,
    DependencyUnavailable,
    NoReplyInTime,
)
CREATE_ORDER = Operation(
    "createOrder",
    "post",
    "/create-order",
    "Create an order",
    response=OrderOut,
    causes=(Outcome.CREATED, Outcome.ALREADY_EXISTS, *WRITE_FAILURES),
    body=CreateOrderRequest,
    location=True,
)
UPDATE_ORDER = Operation(
    "updateOrderStatus",
    "put",
    "/update-order",
    "Change an order's status",
    response=OrderOut,
    causes=(
        Outcome.UPDATED,
        Outcome.UNCHANGED,
        Outcome.NOT_FOUND,
        Outcome.ILLEGAL_TRANSITION,
        *WRITE_FAILURES,
    ),
    body=UpdateOrderRequest,
)
CART_OPERATIONS = (CREATE_ORDER, UPDATE_ORDER)


def random_items(count: int, rng: random.Random) -> list[OrderItem]:
    """Items within every rule of an item: a SKU, 1-5 of it, 1.00-199.99 a piece."""
    return [
        OrderItem.model_construct(
            itemId=f"SKU-{rng.randrange(10_000):04d}",
            quantity=rng.randint(1, 5),
            price=Decimal(rng.randrange(100, 20_000)).scaleb(-2),
        )
        for _ in range(count)
    ]


def order_from_request(request: CreateOrderRequest, rng: random.Random) -> Order:
    """The complete new order: what the client gave, the rest drawn at random.

    Built without validating again: the request was validated by the same
    rules, and what is drawn keeps them (a unit test checks it does).
    """
    items = (
        [
            OrderItem.model_construct(itemId=i.itemId, quantity=i.quantity, price=i.price)
            for i in request.items
        ]
        if request.items is not None
        else random_items(request.numItems or 0, rng)
    )
    return Order.model_construct(
        orderId=request.orderId,
        customerId=request.customerId or f"CUST-{rng.randrange(100_000):05d}",
        orderDate=utc_now(),
        items=items,
        totalAmount=items_total(items),
        currency=request.currency,
        status=OrderStatus.NEW,
    )


def reply_to_response(reply: CommandReply) -> Response:
    status = answer_for(reply.outcome).status
    if status >= 400:
        raise Rejected(reply.outcome, reply.detail)
    assert reply.order is not None  # every success carries the order
    headers = (
        {"Location": f"/order-details?orderId={reply.order.orderId}"} if status == 201 else None
    )
    return json_response(OrderOut.body_of(reply.order), status=status, headers=headers)


def register_cart_views(
    app: faust.App, submit: Callable[[OrderCommand], Awaitable[CommandReply]]
) -> None:
    rng = random.Random()

    def command(command_type: CommandType, order_id: str, **fields: object) -> OrderCommand:
        # Of validated parts: the request, and the order built from it.
        return OrderCommand.model_construct(
            commandId=str(uuid.uuid4()),
            commandType=command_type,
            orderId=order_id,
            issuedAt=utc_now(),
            **fields,
        )

    @app.page(CREATE_ORDER.path)
    class CreateOrderView(ApiView):
        async def post(self, request: Request) -> Response:
            body = await read_json(request, CreateOrderRequest)
            order = order_from_request(body, rng)
            reply = await submit(command(CommandType.CREATE_ORDER, body.orderId, order=order))
            return reply_to_response(reply)

    @app.page(UPDATE_ORDER.path)
    class UpdateOrderView(ApiView):
        async def put(self, request: Request) -> Response:
            body = await read_json(request, UpdateOrderRequest)
            reply = await submit(
                command(CommandType.UPDATE_ORDER_STATUS, body.orderId, status=body.status)
            )
            return reply_to_response(reply)
