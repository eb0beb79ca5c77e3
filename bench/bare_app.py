"""The wrk scenario's baseline: a bare ``aiohttp.web`` endpoint, no Faust, no Kafka.

``python -m bench.bare_app PORT``: POST ``/create-order`` reads the body and
answers 201, on 127.0.0.1.  What one aiohttp process answers on this
machine to the same wrk load as the cart, for the ratio.  No access log: the
baseline is aiohttp itself.
"""

import argparse

from aiohttp import web


async def create_order(request: web.Request) -> web.Response:
    await request.read()  # the same body as a real create, read as a real view must
    return web.json_response({"status": "ok"}, status=201)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app", description=__doc__)
    parser.add_argument("port", type=int)
    port = parser.parse_args().port
    app = web.Application()
    app.router.add_post("/create-order", create_order)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
