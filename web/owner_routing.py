"""Reads of a table served by the worker that owns the key's partition, with a deadline.

Faust's ``app.router.route_req`` forwards with the app's shared HTTP client
and no deadline of its own: an owner that is paused holds the request for
minutes, and one that is dead fails it with a 500.  Here the owner is found
the same way (the assignor's map of partitions to workers), the request is
forwarded with a deadline, and an owner that does not answer in time, or
cannot be reached, is a 503 with ``Retry-After``.

A request is forwarded at most once (it carries :data:`FORWARDED_HEADER`):
a worker that receives a forwarded request for a partition it does not own
(the assignment is moving) answers 503 rather than forwarding it on.
"""

from typing import Any

import aiohttp
import faust
from aiohttp import web
from mode import Service
from yarl import URL

FORWARDED_HEADER = "X-Forwarded-To-Owner"
#: The headers of the owner's answer that are passed on to the client.
PASSED_ON = ("Content-Type", "Retry-After", "ETag", "Cache-Control", "Location")


class OwnerUnavailable(Exception):
    """The worker that owns the key did not answer in time, or is not known (yet)."""


def _ident(url: URL | str) -> tuple[str, int]:
    url = URL(url)
    return (url.host or "", url.port or 80)


class OwnerRouter(Service):
    """Forwards a request to the owner of a key of ``table``, within ``deadline`` seconds."""

    def __init__(self, app: faust.App, table: faust.Table, deadline: float, **kwargs: Any) -> None:
        self.app = app
        self.table = table
        self.deadline = deadline
        self._session: aiohttp.ClientSession | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        # No pooled connection outlives a peer's restart by much, and none waits long.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(keepalive_timeout=5),
            timeout=aiohttp.ClientTimeout(total=self.deadline),
        )

    async def on_stop(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _owner(self, key: str) -> URL:
        try:
            return self.app.router.key_store(self.table.name, key)
        except KeyError:  # no assignment yet, or the partition has no owner now
            raise OwnerUnavailable("no worker owns the order's partition right now") from None

    async def answer_elsewhere(
        self, request: web.Request, key: str, deadline: float | None = None
    ) -> web.Response | None:
        """The owner's answer to ``request``; None when this worker is the owner.

        ``deadline`` (seconds) replaces the router's own for a request that
        may take longer by design (a read that waits).
        """
        owner = self._owner(key)
        if _ident(owner) == _ident(self.app.conf.canonical_url):
            return None
        if FORWARDED_HEADER in request.headers:
            raise OwnerUnavailable(
                "the order's partition is moving between workers; try again shortly"
            )
        if self._session is None:
            raise OwnerUnavailable("the router is not started")
        url = request.url.with_host(owner.host or "").with_port(owner.port)
        headers = {
            **{name: value for name, value in request.headers.items() if name != "Host"},
            FORWARDED_HEADER: str(self.app.conf.canonical_url),
        }
        timeout = aiohttp.ClientTimeout(total=deadline or self.deadline)
        try:
            async with self._session.request(
                request.method, url, headers=headers, timeout=timeout
            ) as response:
                body = await response.read()
                passed_on = {n: v for n in PASSED_ON if (v := response.headers.get(n)) is not None}
                return web.Response(body=body, status=response.status, headers=passed_on)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OwnerUnavailable(
                f"the worker that owns the order ({owner.host}:{owner.port}) did not answer "
                f"within {timeout.total:g} s ({type(exc).__name__})"
            ) from None
