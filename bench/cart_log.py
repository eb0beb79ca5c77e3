"""What the cart's log says of its restores: how many events they read, and when they ended.

The cart restores its table from ``order-events`` when it takes up its
partitions, and logs one line once they are restored and their writers
started.  The bench times a restore from that line rather than trust
``/ready`` alone to say it is over; the coldstart scenario reports both.
"""

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

#: What the cart logs once it has restored the partitions it takes up, with
#: ``eventsRead``: the records of ``order-events`` the restore read.
RESTORED_MESSAGE = b'"writing partitions"'
#: The time of each line of the cart's log (logging's ``asctime``: local time, ms).
LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"


@dataclass(frozen=True)
class Restored:
    """The restores the cart logged after a mark."""

    #: Records of ``order-events`` they read.
    events: int
    #: From the mark until the last one had restored its partitions and started their writers.
    seconds: float


class LogMark:
    """The end of the cart's log and the time, taken just before the cart starts."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.offset = log.stat().st_size
        self.at = datetime.now()  # the log's clock: local time

    def restored(self) -> Restored | None:
        """The restores logged since the mark; None if none yet."""
        with self.log.open("rb") as lines:
            lines.seek(self.offset)
            logged = [json.loads(line) for line in lines if RESTORED_MESSAGE in line]
        if not logged:
            return None
        ended = datetime.strptime(logged[-1]["time"], LOG_TIME)
        events = sum(each["eventsRead"] for each in logged)
        return Restored(events, (ended - self.at).total_seconds())

    async def wait_restored(self, timeout: float = 120) -> Restored:
        """:meth:`restored` once the cart has logged a restore since the mark."""
        deadline = time.monotonic() + timeout
        while (restored := self.restored()) is None:
            if time.monotonic() > deadline:
                message = RESTORED_MESSAGE.decode()
                raise TimeoutError(f"the cart logged no {message} line; see {self.log}")
            await asyncio.sleep(0.1)
        return restored
