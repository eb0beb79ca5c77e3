"""Create-order throughput measured by wrk, a C load generator, against a bare aiohttp endpoint.

The same load as the throughput scenario (``sizes.clients`` connections,
closed loop) from another generator: wrk (Debian's package; ``make wrk``), 2
threads, ``sizes.wrk_seconds`` per run.  Its Lua script
(``bench/wrk_create.lua``) gives every request a unique orderId and prints
wrk's own counts and percentiles in one line.  Baseline: a bare
``aiohttp.web`` endpoint (``bench.bare_app``, its own process) that reads the
body and answers 201.  Beside it, the simple solution of the assignment
(``bench.peer_app``: a handler that produces each order and awaits it), the
peer the cart must beat by a wide margin.  The cart, the baseline and the
peer alternate within each repetition, so a change in the machine's
background load hits all alike.

Errors are socket errors (connect, read, write, timeout) and answers of 400
and above (wrk's count of failed statuses; neither answers 1xx or 3xx).  The
rate counts the other answers.
"""

import asyncio
import contextlib
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

from bench.run import BenchRun
from bench.sizes import Sizes
from bench.stats import Figure, Metrics, Target, column, load_figures
from infra.kafka_connection import KafkaConnection
from infra.topics import TopicSpec, create_topics
from local_kafka.probe import free_port, port_in_use
from local_kafka.process import ends_with_parent
from local_kafka.stack import PARTITIONS

NAME = "wrk"
WRK_EXECUTABLE = "wrk"
THREADS = 2
SCRIPT = Path(__file__).with_name("wrk_create.lua")
#: What starts the line the script's ``done`` prints.
RESULT_MARKER = "bench-wrk "
SOCKET_ERRORS = ("connect", "read", "write", "timeout")
#: Past the cart's own request deadline (5 s, then 504): a slow answer is the
#: cart's to report, not wrk's timeout (2 s by default).
REQUEST_TIMEOUT_SECONDS = 10
BARE_START_SECONDS = 30.0
#: The peer's topic: read by nobody, so the order service does not project its records.
PEER_TOPIC = "bench-peer-orders"
#: "By a wide margin": the cart, with its checks and state, against the simple solution.
PEER_TARGET = 1.5


async def stop(process: asyncio.subprocess.Process, timeout: float = 10) -> None:
    """SIGTERM and wait, unless it has exited; SIGKILL if it is still there after ``timeout`` s."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def endpoint(workdir: Path, module: str, *arguments: str) -> AsyncIterator[str]:
    """``python -m <module> PORT <arguments>`` running on a free port, the URL of its
    create-order; stopped on the way out."""
    port = free_port()
    with (workdir / f"{module.rsplit('.', 1)[-1]}.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            str(port),
            *arguments,
            cwd=Path(__file__).parent.parent,  # where ``bench`` is importable from
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=ends_with_parent(),
        )
        try:
            deadline = time.monotonic() + BARE_START_SECONDS
            while not port_in_use("127.0.0.1", port):
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{module} did not start; see {log.name}")
                await asyncio.sleep(0.05)
            yield f"http://127.0.0.1:{port}/create-order"
        finally:
            await stop(process)


def parse_result(output: str) -> dict[str, int]:
    """The counts of the script's result line, by name."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARKER):
            pairs = (field.split("=") for field in line.removeprefix(RESULT_MARKER).split())
            return {name: int(value) for name, value in pairs}
    raise RuntimeError(f"no {RESULT_MARKER.strip()!r} line in wrk's output:\n{output}")


async def load(url: str, sizes: Sizes, seconds: int, log: Path, errors: Counter[str]) -> Metrics:
    """One wrk run; its rate of 2xx answers, latencies and errors (tallied by kind)."""
    command = [
        WRK_EXECUTABLE,
        f"--threads={THREADS}",
        f"--connections={sizes.clients}",
        f"--duration={seconds}s",
        f"--timeout={REQUEST_TIMEOUT_SECONDS}s",
        "--latency",
        f"--script={SCRIPT}",
        url,
        "--",
        f"wrk-{uuid.uuid4().hex[:8]}",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=ends_with_parent(),
    )
    try:
        output = (await process.communicate())[0].decode(errors="replace")
    finally:
        await stop(process)  # cancelled (Ctrl-C): wrk would run its course otherwise
    with log.open("a") as kept:  # wrk's own summary, with its latency distribution
        kept.write(f"$ {' '.join(command)}\n{output}\n")
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}:\n{output}")
    result = parse_result(output)
    kinds = {kind: result[kind] for kind in (*SOCKET_ERRORS, "status")}
    errors.update({kind: count for kind, count in kinds.items() if count})
    return {
        "rate": (result["requests"] - result["status"]) / (result["duration_us"] / 1e6),
        "p50": result["p50_us"] / 1000,
        "p99": result["p99_us"] / 1000,
        "errors": sum(kinds.values()),
    }


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    if shutil.which(WRK_EXECUTABLE) is None:
        raise RuntimeError("wrk is not installed: make wrk (Debian's package wrk)")
    log = platform.workdir / "wrk.log"
    runs: dict[str, list[Metrics]] = {"ours": [], "bare": [], "peer": []}
    errors: Counter[str] = Counter()
    kafka = KafkaConnection(platform.bootstrap_servers)
    await create_topics(kafka, PARTITIONS, 1, [TopicSpec(PEER_TOPIC)])
    async with (
        endpoint(platform.workdir, "bench.bare_app") as bare_url,
        endpoint(
            platform.workdir, "bench.peer_app", platform.bootstrap_servers, PEER_TOPIC
        ) as peer_url,
    ):
        urls = {
            "ours": f"{platform.cart.base_url}/create-order",
            "bare": bare_url,
            "peer": peer_url,
        }
        for url in urls.values():  # warm-up: connections, the broker's JIT
            await load(url, sizes, round(sizes.warmup_seconds), log, Counter())
        for _ in range(sizes.reps):
            for name, url in urls.items():
                tally = errors if name == "ours" else Counter()
                runs[name].append(await load(url, sizes, sizes.wrk_seconds, log, tally))
                if name != "ours" and runs[name][-1]["errors"]:
                    raise RuntimeError(f"the {name} baseline answered errors: {dict(tally)}")
    ours, base, peer = runs["ours"], runs["bare"], runs["peer"]
    label = (
        f"create-order, wrk {THREADS} threads × {sizes.clients} connections × {sizes.wrk_seconds} s"
    )
    return [
        *load_figures(
            NAME,
            label,
            ours,
            base,
            rate_target=0.15,
            baseline_note="baseline: a bare aiohttp.web endpoint (bench.bare_app, its own "
            "process) that reads the body and answers 201; same wrk load",
            errors_metric="errors (socket, status ≥ 400)",
            errors_seen=errors,
        ),
        Figure(
            NAME,
            "create-order rate beside the simple solution",
            "req/s",
            column(ours, "rate"),
            column(peer, "rate"),
            Target(">=", PEER_TARGET, relative=True),
            note="baseline: bench.peer_app, a handler that produces each order with an "
            "idempotent acks=all aiokafka producer and awaits it (no checks, no state); "
            f"its p99 {statistics.median(column(peer, 'p99')):.1f} ms",
        ),
    ]
