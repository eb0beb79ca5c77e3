"""The cart's HTTP API: translate requests into commands, replies into responses."""

import hashlib
import random
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import faust
import orjson
from aiohttp import web
from faust.web import Request, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from agents.command_gateway import NoReplyInTime
from infra.reachability import DependencyUnavailable
from models.api import CreateOrderRequest, OrderOut, UpdateOrderRequest
from models.commands import CommandReply, CommandType, OrderCommand, Outcome
from models.order import Order, OrderItem, items_total
from models.rules import IdempotencyKey
from models.status import OrderStatus
from models.wire import utc_now
from web.http import ApiView, etag, json_response, read_json, version_condition
from web.openapi import Operation
from web.problems import InvalidInput, Rejected, UnsupportedBody, answer_for

IDEMPOTENCY_KEY = "Idempotency-Key"
KEY_MEANING = (
    "a key of yours (a UUID) for this request: sent again with the same request, "
    "the first answer comes back (Idempotent-Replayed: true) instead of a second change; "
    "with another request, 422. Kept 24 h, per order"
)
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
    causes=(Outcome.CREATED, Outcome.ALREADY_EXISTS, Outcome.KEY_REUSED, *WRITE_FAILURES),
    body=CreateOrderRequest,
    location=True,
    headers={IDEMPOTENCY_KEY: KEY_MEANING},
    etag=True,
    replays=True,
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
        Outcome.VERSION_MISMATCH,
        Outcome.KEY_REUSED,
        *WRITE_FAILURES,
    ),
    body=UpdateOrderRequest,
    headers={
        "If-Match": 'change only while the order is at this ETag ("3"); else 412',
        IDEMPOTENCY_KEY: KEY_MEANING,
    },
    etag=True,
    replays=True,
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


REPLAYED = "Idempotent-Replayed"
_IDEMPOTENCY_KEY = TypeAdapter(IdempotencyKey)


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key (a structured-field string: quoted, or bare)."""
    value = request.headers.get(IDEMPOTENCY_KEY)
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    try:
        return _IDEMPOTENCY_KEY.validate_python(value)
    except ValidationError:
        raise InvalidInput(
            f"{IDEMPOTENCY_KEY} must be 1-255 visible ASCII characters, e.g. a UUID",
            [{"field": IDEMPOTENCY_KEY, "message": "not a valid key"}],
        ) from None


def request_hash(request: Request, body: BaseModel, if_match: list[int] | None) -> str:
    """What the request asks, as a hash: a key sent again with another request is refused.
    The validated body, so the same order written differently (a default spelt out,
    fields in another order) is the same request."""
    asked = [request.method, request.path, body.model_dump(mode="json"), if_match]
    return hashlib.sha256(orjson.dumps(asked, option=orjson.OPT_SORT_KEYS)).hexdigest()


def reply_to_response(reply: CommandReply) -> Response:
    status = answer_for(reply.outcome).status
    replayed = {REPLAYED: "true"} if reply.replayed else {}
    if status >= 400:
        raise Rejected(reply.outcome, reply.detail, replayed)
    assert reply.order is not None  # every success carries the order
    headers = {"ETag": etag(reply.version), **replayed}
    if status == 201:
        headers["Location"] = f"/order-details?orderId={reply.order.orderId}"
    return json_response(
        OrderOut.body_of(reply.order, reply.version), status=status, headers=headers
    )


def register_cart_views(
    app: faust.App, submit: Callable[[OrderCommand], Awaitable[CommandReply]]
) -> None:
    rng = random.Random()

    def command(
        request: Request,
        body: CreateOrderRequest | UpdateOrderRequest,
        command_type: CommandType,
        *,
        if_match: list[int] | None = None,
        **fields: object,
    ) -> OrderCommand:
        # Of validated parts: the request, its headers, and the order built from it.
        return OrderCommand.model_construct(
            commandId=str(uuid.uuid4()),
            commandType=command_type,
            orderId=body.orderId,
            issuedAt=utc_now(),
            ifMatch=if_match,
            idempotencyKey=idempotency_key(request),
            requestHash=request_hash(request, body, if_match),
            **fields,
        )

    @app.page(CREATE_ORDER.path)
    class CreateOrderView(ApiView):
        async def post(self, request: Request) -> Response:
            body = await read_json(request, CreateOrderRequest)
            order = order_from_request(body, rng)
            reply = await submit(command(request, body, CommandType.CREATE_ORDER, order=order))
            return reply_to_response(reply)

    @app.page(UPDATE_ORDER.path)
    class UpdateOrderView(ApiView):
        async def put(self, request: Request) -> Response:
            body = await read_json(request, UpdateOrderRequest)
            condition = version_condition(request, "If-Match")
            if_match = (
                None if condition is None or condition.any_version else sorted(condition.versions)
            )
            reply = await submit(
                command(
                    request,
                    body,
                    CommandType.UPDATE_ORDER_STATUS,
                    if_match=if_match,
                    status=body.status,
                )
            )
            return reply_to_response(reply)
