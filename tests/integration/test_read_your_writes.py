"""Read-your-writes and safe retries, through HTTP on two workers of each service.

Versions and ETags, the waiting read (``minVersion``/``waitMs``), If-Match,
and Idempotency-Key across workers, a SIGKILL with the cart's state lost,
and a 504 caused by a hung broker.  The tests that kill or pause come last.
"""

import asyncio
import logging
import re
import shutil
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest

from local_kafka.stack import LocalStack
from tests.integration.client import call, eventually, produce

logger = logging.getLogger(__name__)

CREATE_THEN_READ = 1000
CLIENTS = 16
RACES = 20


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("read_your_writes"), workers=2) as stack:
        yield stack


def create(pair: LocalStack, order_id: str, worker: int = 0, key: str | None = None, **body):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = f'"{key}"'
    url = f"{pair.cart_workers[worker].base_url}/create-order"
    return "POST", url, {"json": {"orderId": order_id, "numItems": 1, **body}, "headers": headers}


def update(pair: LocalStack, order_id: str, status: str, worker: int = 0, **headers: str):
    url = f"{pair.cart_workers[worker].base_url}/update-order"
    headers = {"Content-Type": "application/json", **headers}
    return "PUT", url, {"json": {"orderId": order_id, "status": status}, "headers": headers}


async def send(http: aiohttp.ClientSession, request) -> tuple[int, dict, dict]:
    method, url, options = request
    return await call(http, method, url, **options)


def details(pair: LocalStack, order_id: str, worker: int = 0, **query: object) -> str:
    params = "".join(f"&{name}={value}" for name, value in query.items())
    return f"{pair.order_workers[worker].base_url}/order-details?orderId={order_id}{params}"


async def waiting_reads(http: aiohttp.ClientSession, pair: LocalStack) -> float:
    total = 0.0
    for worker in pair.order_workers:
        async with http.get(f"{worker.base_url}/metrics") as response:
            found = re.search(r"^reads_waiting (\S+)$", await response.text(), re.M)
        assert found, "the reads_waiting gauge is missing"
        total += float(found.group(1))
    return total


async def test_writes_and_reads_carry_the_orders_version_as_its_etag(http, pair, order_id):
    status, created, headers = await send(http, create(pair, order_id))
    assert (status, created["version"], headers["ETag"]) == (201, 1, '"1"')
    status, updated, headers = await send(http, update(pair, order_id, "confirmed", worker=1))
    assert (status, updated["version"], headers["ETag"]) == (200, 2, '"2"')

    for worker in (0, 1):  # the owner, and the other one forwarding to it
        status, read, headers = await call(
            http, "GET", details(pair, order_id, worker, minVersion=2, waitMs=5000)
        )
        assert (status, read["version"], headers["ETag"]) == (200, 2, '"2"')
        status, body, headers = await call(
            http, "GET", details(pair, order_id, worker), headers={"If-None-Match": '"2"'}
        )
        assert (status, body, headers["ETag"]) == (304, None, '"2"')
        status, _, _ = await call(
            http, "GET", details(pair, order_id, worker), headers={"If-None-Match": '"1"'}
        )
        assert status == 200


async def test_a_read_with_min_version_1_after_each_create_never_sees_a_404(http, pair, order_id):
    ids = iter(range(CREATE_THEN_READ))
    answers: Counter[int] = Counter()
    waited: list[float] = []

    async def client() -> None:
        for n in ids:
            oid = f"{order_id}-{n}"
            status, _, _ = await send(http, create(pair, oid, worker=n % 2))
            assert status == 201
            started = time.monotonic()
            status, _, _ = await call(
                http, "GET", details(pair, oid, (n // 2) % 2, minVersion=1, waitMs=10_000)
            )
            waited.append(time.monotonic() - started)
            answers[status] += 1

    await asyncio.gather(*(client() for _ in range(CLIENTS)))

    waited.sort()
    logger.info(
        "create then read minVersion=1: %s; read p50 %.1f ms, p99 %.1f ms",
        dict(answers),
        statistics.median(waited) * 1000,
        waited[int(len(waited) * 0.99)] * 1000,
    )
    assert answers == {200: CREATE_THEN_READ}


async def test_a_waiting_read_wakes_on_the_write_itself(http, pair, order_id):
    await send(http, create(pair, order_id))
    reading = asyncio.ensure_future(
        call(http, "GET", details(pair, order_id, 1, minVersion=2, waitMs=20_000))
    )
    await eventually(lambda: waiting_reads(http, pair), lambda n: n == 1)
    status, _, _ = await send(http, update(pair, order_id, "pending"))
    updated_at = time.monotonic()
    read_status, read, _ = await reading
    woken_after = time.monotonic() - updated_at

    logger.info("waiting read answered %.1f ms after the update's 200", woken_after * 1000)
    assert (status, read_status, read["version"], read["status"]) == (200, 200, 2, "pending")
    assert woken_after < 1.0  # woken by the write, not at the end of its 20 s
    assert await waiting_reads(http, pair) == 0


async def test_a_read_waiting_past_wait_ms_is_a_504_with_retry_after(http, pair, order_id):
    await send(http, create(pair, order_id))
    for worker in (0, 1):
        started = time.monotonic()
        status, problem, headers = await call(
            http, "GET", details(pair, order_id, worker, minVersion=3, waitMs=400)
        )
        elapsed = time.monotonic() - started

        assert (status, problem["status"]) == (504, 504)
        assert headers["Content-Type"] == "application/problem+json"
        assert headers["Retry-After"]
        assert "version 1, not yet 3" in problem["detail"]
        assert 0.4 <= elapsed < 2.0


@pytest.mark.parametrize(
    "query",
    ["minVersion=0", "minVersion=2.0", "minVersion=x", "waitMs=10", "minVersion=1&waitMs=30001"],
)
async def test_a_waiting_read_with_bad_parameters_is_a_400(http, pair, query):
    url = f"{pair.orders.base_url}/order-details?orderId=o-1&{query}"
    status, problem, _ = await call(http, "GET", url)
    assert (status, problem["status"]) == (400, 400)


async def test_a_reader_that_goes_away_leaves_nothing_waiting(http, pair, order_id):
    await send(http, create(pair, order_id))
    url = details(pair, order_id, 1, minVersion=9, waitMs=30_000)  # forwarded to the owner
    async with aiohttp.ClientSession() as impatient:
        reading = asyncio.ensure_future(impatient.get(url))
        await eventually(lambda: waiting_reads(http, pair), lambda n: n == 1)
        reading.cancel()
    gone_at = time.monotonic()
    await eventually(lambda: waiting_reads(http, pair), lambda n: n == 0, timeout=5)
    logger.info("waiter freed %.2f s after its client left", time.monotonic() - gone_at)


async def test_if_match_races_on_one_version_let_exactly_one_through(http, pair, order_id):
    outcomes: Counter[tuple[int, int]] = Counter()
    for race in range(RACES):
        oid = f"{order_id}-{race}"
        await send(http, create(pair, oid))
        answers = await asyncio.gather(
            send(http, update(pair, oid, "pending", worker=0, **{"If-Match": '"1"'})),
            send(http, update(pair, oid, "confirmed", worker=1, **{"If-Match": '"1"'})),
        )
        outcomes[tuple(sorted(status for status, _, _ in answers))] += 1
        _, read, _ = await call(http, "GET", details(pair, oid, minVersion=2, waitMs=5000))
        assert read["version"] == 2  # one change, not two

    assert outcomes == {(200, 412): RACES}


async def test_if_match_on_another_version_changes_nothing(http, pair, order_id):
    await send(http, create(pair, order_id))
    status, problem, _ = await send(
        http, update(pair, order_id, "shipped", **{"If-Match": '"7", W/"1"'})
    )
    malformed, _, _ = await send(http, update(pair, order_id, "shipped", **{"If-Match": "1"}))
    matching, body, _ = await send(http, update(pair, order_id, "shipped", **{"If-Match": '"1"'}))

    assert (status, problem["status"], malformed) == (412, 412, 400)
    assert "version 1, not 7" in problem["detail"]
    assert (matching, body["version"], body["status"]) == (200, 2, "shipped")


async def test_an_idempotency_key_replays_the_first_answer_on_any_worker(http, pair, order_id):
    key = str(uuid.uuid4())
    first = await send(http, create(pair, order_id, worker=0, key=key))
    again = [await send(http, create(pair, order_id, worker=w, key=key)) for w in (0, 1)]
    other_body = await send(http, create(pair, order_id, worker=1, key=key, numItems=2))

    assert first[0] == 201
    assert "Idempotent-Replayed" not in first[2]
    for status, body, headers in again:
        assert (status, body) == (201, first[1])
        assert (headers["Idempotent-Replayed"], headers["ETag"]) == ("true", '"1"')
    assert (other_body[0], other_body[1]["status"]) == (422, 422)

    update_key = str(uuid.uuid4())
    moved = await send(http, update(pair, order_id, "pending", **{"Idempotency-Key": update_key}))
    await send(http, update(pair, order_id, "confirmed"))
    replayed = await send(
        http, update(pair, order_id, "pending", worker=1, **{"Idempotency-Key": update_key})
    )
    assert (moved[0], moved[1]["version"]) == (200, 2)
    assert (replayed[0], replayed[1], replayed[2]["Idempotent-Replayed"]) == (200, moved[1], "true")


async def test_kept_answers_survive_a_sigkill_of_the_cart_with_its_state_lost(http, pair, order_id):
    created_key, conflict_key = str(uuid.uuid4()), str(uuid.uuid4())
    created = await send(http, create(pair, order_id, key=created_key))
    conflict = await send(http, create(pair, order_id, worker=1, key=conflict_key))
    assert (created[0], conflict[0]) == (201, 409)
    # Whoever can write the kept answers' topic: bytes that are no kept answer, and a
    # record keyed like the order's row (the default partitioner puts it in its partition).
    await produce(
        pair.bootstrap_servers,
        [
            (b"\x01" + order_id.encode() + b"\x00" + b"k-1", b"not a kept answer"),
            (order_id.encode(), b'{"requestHash": null, "at": 0, "reply": {}}'),
        ],
        topic="order-idempotency-keys",
    )

    for cart in pair.cart_workers:  # every cart process: what they kept is gone with them
        cart.kill()
    shutil.rmtree(pair.workdir / "state" / "cart-service", ignore_errors=True)
    shutil.rmtree(pair.workdir / "state" / "worker-1" / "cart-service", ignore_errors=True)
    for cart in pair.cart_workers:
        await asyncio.to_thread(cart.start)
    for cart in pair.cart_workers:
        await asyncio.to_thread(cart.wait_ready)

    for worker in (0, 1):
        status, body, headers = await eventually(
            lambda w=worker: send(http, create(pair, order_id, worker=w, key=created_key)),
            lambda r: r[0] != 503,
            timeout=60,
        )
        assert (status, body, headers["Idempotent-Replayed"]) == (201, created[1], "true")
        status, problem, headers = await send(
            http, create(pair, order_id, worker=worker, key=conflict_key)
        )
        assert (status, problem["detail"], headers["Idempotent-Replayed"]) == (
            409,
            conflict[1]["detail"],
            "true",
        )
    # The order's row is the order's, not a record of the kept answers' topic.
    status, moved, _ = await send(http, update(pair, order_id, "pending"))
    assert (status, moved["version"]) == (200, 2)


async def test_a_create_cut_off_by_a_hung_broker_is_resent_safely_with_the_named_key(
    http, pair, order_id
):
    """A 504 names the key to resend with (the command id when the client gave none)."""
    answer = None
    for attempt in range(5):  # a 503 means the outage was seen first: nothing was sent
        oid = f"{order_id}-{attempt}"
        await asyncio.to_thread(pair.broker.pause)
        try:
            answer = await send(http, create(pair, oid))
        finally:
            await asyncio.to_thread(pair.broker.resume)
        if answer[0] == 504:
            break
        await asyncio.sleep(3)
    assert answer is not None
    assert answer[0] == 504, answer
    named = re.search(r'Idempotency-Key: "([^"]+)"', answer[1]["detail"])
    assert named, answer[1]["detail"]

    resent = await eventually(
        lambda: send(http, create(pair, oid, key=named.group(1))),
        lambda r: r[0] not in (503, 504),
        timeout=60,
    )
    again = await send(http, create(pair, oid, worker=1, key=named.group(1)))

    logger.info(
        "resent after a 504: %d (replayed: %s)", resent[0], resent[2].get("Idempotent-Replayed")
    )
    assert resent[0] == 201  # never a 409 for the client's own create
    assert (again[0], again[1], again[2]["Idempotent-Replayed"]) == (201, resent[1], "true")
