"""The wrk scenario's peer: the simple solution of the same assignment, for comparison.

``python -m bench.peer_app PORT BOOTSTRAP_SERVERS TOPIC``: POST ``/create-order``
parses ``{orderId, numItems}``, draws the items, and produces the order straight
from the handler, keyed by orderId, with an idempotent aiokafka producer
(``acks=all``), awaiting its acknowledgement before it answers 201: the
pattern of the usual one-file answer (a web handler awaiting its producer).
It checks nothing (a duplicate orderId is a 201 again), keeps no state, has
no deadline, writes JSON and no event envelope, and its topic is read by
nobody: everything the cart does beyond that is what the comparison weighs.
"""

import argparse
import json
import random
from collections.abc import AsyncIterator
from decimal import Decimal

from aiohttp import web
from aiokafka import AIOKafkaProducer

PRODUCER = web.AppKey("producer", AIOKafkaProducer)
BOOTSTRAP_SERVERS = web.AppKey("bootstrap_servers", str)
TOPIC = web.AppKey("topic", str)


async def create_order(request: web.Request) -> web.Response:
    body = await request.json()
    order_id, items = str(body["orderId"]), int(body["numItems"])
    drawn = [
        {
            "itemId": f"SKU-{random.randrange(1000)}",
            "quantity": random.randint(1, 5),
            "price": str(Decimal(random.randrange(100, 10000)) / 100),
        }
        for _ in range(items)
    ]
    order = {
        "orderId": order_id,
        "items": drawn,
        "totalAmount": str(sum(Decimal(i["price"]) * i["quantity"] for i in drawn)),
        "status": "new",
    }
    value = json.dumps(order).encode()
    await request.app[PRODUCER].send_and_wait(request.app[TOPIC], value, key=order_id.encode())
    return web.json_response(order, status=201)


async def producer_context(app: web.Application) -> AsyncIterator[None]:
    producer = AIOKafkaProducer(
        bootstrap_servers=app[BOOTSTRAP_SERVERS], acks="all", enable_idempotence=True
    )
    await producer.start()
    app[PRODUCER] = producer
    yield
    await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer_app", description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("bootstrap_servers")
    parser.add_argument("topic")
    args = parser.parse_args()
    app = web.Application()
    app[BOOTSTRAP_SERVERS], app[TOPIC] = args.bootstrap_servers, args.topic
    app.cleanup_ctx.append(producer_context)
    app.router.add_post("/create-order", create_order)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
