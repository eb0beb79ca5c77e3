"""The cart's HTTP API: translate requests into commands, replies into responses."""

import random
import uuid
from decimal import Decimal

import faust
from faust.web import Request, Response

from infra.command_gateway import CommandGateway
from models.api import CreateOrderRequest, OrderItemIn, UpdateOrderRequest
from models.commands import CommandReply, CommandType, OrderCommand, Outcome
from models.money import to_money
from models.order import Order, OrderItem, items_total
from models.status import OrderStatus
from models.wire import utc_now
from web.http import ApiView, json_response, read_json
from web.problems import HttpProblem

STATUS_OF_OUTCOME = {
    Outcome.CREATED: 201,
    Outcome.UPDATED: 200,
    Outcome.UNCHANGED: 200,
    Outcome.ALREADY_EXISTS: 409,
    Outcome.NOT_FOUND: 404,
    Outcome.ILLEGAL_TRANSITION: 409,
}


def random_items(count: int, rng: random.Random) -> list[OrderItem]:
    return [
        OrderItem(
            itemId=f"SKU-{rng.randrange(10_000):04d}",
            quantity=rng.randint(1, 5),
            price=to_money(Decimal(rng.randrange(100, 20_000)) / 100),
        )
        for _ in range(count)
    ]


def order_from_request(request: CreateOrderRequest, rng: random.Random) -> Order:
    """The complete new order: what the client gave, the rest drawn at random."""
    given: list[OrderItemIn] | None = request.items
    items = (
        [OrderItem(itemId=i.itemId, quantity=i.quantity, price=i.price) for i in given]
        if given is not None
        else random_items(request.numItems or 0, rng)
    )
    return Order(
        orderId=request.orderId,
        customerId=request.customerId or f"CUST-{rng.randrange(100_000):05d}",
        orderDate=utc_now(),
        items=items,
        totalAmount=items_total(items),
        currency=request.currency,
        status=OrderStatus.NEW,
    )


def reply_to_response(reply: CommandReply) -> Response:
    status = STATUS_OF_OUTCOME[reply.outcome]
    if status >= 400:
        raise HttpProblem(status, reply.detail)
    assert reply.order is not None  # every success carries the order
    headers = (
        {"Location": f"/order-details?orderId={reply.order.orderId}"} if status == 201 else None
    )
    return json_response(reply.order.to_wire(), status=status, headers=headers)


def register_cart_views(app: faust.App, gateway: CommandGateway) -> None:
    rng = random.Random()

    def command(command_type: CommandType, order_id: str, **fields: object) -> OrderCommand:
        return OrderCommand(
            commandId=str(uuid.uuid4()),
            commandType=command_type,
            orderId=order_id,
            issuedAt=utc_now(),
            **fields,
        )

    @app.page("/create-order")
    class CreateOrderView(ApiView):
        async def post(self, request: Request) -> Response:
            body = await read_json(request, CreateOrderRequest)
            order = order_from_request(body, rng)
            reply = await gateway.submit(
                command(CommandType.CREATE_ORDER, body.orderId, order=order)
            )
            return reply_to_response(reply)

    @app.page("/update-order")
    class UpdateOrderView(ApiView):
        async def put(self, request: Request) -> Response:
            body = await read_json(request, UpdateOrderRequest)
            reply = await gateway.submit(
                command(CommandType.UPDATE_ORDER_STATUS, body.orderId, status=body.status)
            )
            return reply_to_response(reply)
