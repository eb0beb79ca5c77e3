"""A record the producer refuses to take is handed over again, in place, with back-off."""

import asyncio
import logging

from aiokafka.errors import KafkaTimeoutError

import agents.hand_over
from agents.hand_over import hand_over


async def test_a_refused_record_is_handed_over_again_until_taken(monkeypatch, caplog):
    monkeypatch.setattr(agents.hand_over, "RETRY_FIRST_DELAY", 0.01)
    attempts = 0
    taken: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def send() -> asyncio.Future[str]:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise KafkaTimeoutError("no leader for the partition yet")
        return taken

    with caplog.at_level(logging.WARNING, logger="agents.hand_over"):
        assert await hand_over(send, {"orderId": "ORD-5"}) is taken

    assert attempts == 3
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert [r.orderId for r in retries] == ["ORD-5", "ORD-5"]
