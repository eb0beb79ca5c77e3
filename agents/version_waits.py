"""Reads that wait for an order to reach a version, woken by the projector's writes.

``GET /order-details?minVersion=N&waitMs=T`` waits here until the row of the
order holds version N or later.  The projector tells of each partition batch
it has stored (the orderIds and their versions, which it has at hand); with
nobody waiting that costs one check of an empty dict.  A waiter lives only
while its request waits: it is removed when it is woken, when its time is
up, and when the wait is cancelled (its client went away).
"""

import asyncio
from collections.abc import Callable, Mapping


class VersionWaits:
    def __init__(self) -> None:
        #: By orderId: each waiting request's version and the future that wakes it.
        self._waiting: dict[bytes, list[tuple[int, asyncio.Future[None]]]] = {}

    def __len__(self) -> int:
        return sum(len(waiters) for waiters in self._waiting.values())

    async def wait_for(
        self,
        order_id: str,
        version: int,
        held: Callable[[], int],
        timeout: float,
    ) -> bool:
        """Whether the order reached ``version`` within ``timeout`` seconds.

        ``held`` is the version the store holds now (0: none); it is asked
        once the waiter is in place, so a write in between is not missed.
        """
        key = order_id.encode()
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (version, woken)
        self._waiting.setdefault(key, []).append(waiter)
        try:
            if held() >= version:
                return True
            async with asyncio.timeout(timeout):
                await woken
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiting[key]
            waiters.remove(waiter)
            if not waiters:
                del self._waiting[key]

    def written(self, versions: Mapping[bytes, int]) -> None:
        """Wake the reads waiting for these orders (orderId → the version now stored)."""
        if not self._waiting:
            return
        for key, version in versions.items():
            for wanted, woken in self._waiting.get(key, ()):
                if wanted <= version and not woken.done():
                    woken.set_result(None)
