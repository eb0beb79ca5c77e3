"""Create-order throughput at N concurrent clients, against the HTTP ceiling.

The ceiling is a bare Faust app (``bench.ceiling_app``) with a no-op view,
driven by the same load generator with the same requests.  Ours and the
ceiling alternate within each repetition, so a change in the machine's
background load hits both alike.
"""

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.ceiling_app import CEILING_ENV_PREFIX
from bench.loadgen import closed_loop, create_body, http_session
from bench.procstat import CpuMeter
from bench.run import BenchRun
from bench.sizes import Sizes
from bench.stats import Figure, Metrics, column, load_figures
from local_kafka.probe import free_port
from local_kafka.services import ServiceProcess

NAME = "throughput"
#: % of a core past which a single-process generator is the bottleneck itself.
GENERATOR_BOUND = 85.0


def ceiling_process(bootstrap_servers: str, workdir: Path) -> ServiceProcess:
    """The ceiling app (``bench.ceiling_app``), run as the services are."""
    return ServiceProcess(
        "ceiling",
        "bench.ceiling_app",
        CEILING_ENV_PREFIX,
        bootstrap_servers=bootstrap_servers,
        port=free_port(),
        data_dir=workdir / "ceiling",
        log_path=workdir / "ceiling.log",
    )


async def load(
    url: str | Sequence[str],
    sizes: Sizes,
    seconds: float,
    pids: dict[str, int],
    errors: Counter[str],
) -> Metrics:
    """One closed-loop run; its rate, latencies, errors and the CPU each process used."""
    prefix = f"tp-{uuid.uuid4().hex[:8]}"
    async with http_session(sizes.clients) as http:
        with CpuMeter(pids) as cpu:
            result = await closed_loop(
                http,
                url,
                clients=sizes.clients,
                seconds=seconds,
                body=lambda n: create_body(f"{prefix}-{n}"),
            )
    errors.update(result.errors)
    return {
        "rate": result.rate,
        "p50": result.p(50),
        "p99": result.p(99),
        "errors": sum(result.errors.values()),
        **{f"cpu.{name}": percent for name, percent in cpu.percent.items()},
    }


def _generator_note(ceiling_runs: list[Metrics]) -> str:
    """Whether the load generator, one process on one core, capped the ceiling."""
    busiest = max(rep["cpu.loadgen"] for rep in ceiling_runs)
    if busiest < GENERATOR_BOUND:
        return "100 = one core busy; the generator had room to spare"
    return (
        f"100 = one core busy; at {busiest:.0f} the generator itself capped the ceiling "
        "run, so the ceiling is a lower bound and the ratio above an upper bound"
    )


async def run(platform: BenchRun, sizes: Sizes) -> list[Figure]:
    ceiling = ceiling_process(platform.bootstrap_servers, platform.workdir)
    ceiling.start()
    try:
        await asyncio.to_thread(ceiling.wait_ready)
        targets = {
            "ours": (f"{platform.cart.base_url}/create-order", platform.process_ids()),
            "ceiling": (f"{ceiling.base_url}/create-order", {"cart": ceiling.pid or 0}),
        }
        for url, pids in targets.values():  # warm-up: connections, the broker's JIT
            await load(url, sizes, sizes.warmup_seconds, pids, Counter())
        runs: dict[str, list[Metrics]] = {"ours": [], "ceiling": []}
        errors: Counter[str] = Counter()
        for _ in range(sizes.reps):
            for name, (url, pids) in targets.items():
                tally = errors if name == "ours" else Counter()
                runs[name].append(await load(url, sizes, sizes.throughput_seconds, pids, tally))
    finally:
        ceiling.stop()
    ours, base = runs["ours"], runs["ceiling"]
    label = f"create-order, {sizes.clients} clients × {sizes.throughput_seconds:g} s"
    return [
        *load_figures(
            NAME,
            label,
            ours,
            base,
            rate_target=0.2,
            baseline_note="baseline: POST to a no-op view of an app from the services' own "
            "factory (the same Faust worker, options and middlewares; no validation, no Kafka), "
            "same requests, same load generator",
            errors_metric="errors",
            errors_seen=errors,
        ),
        Figure(
            NAME,
            "load generator CPU",
            "% core",
            column(ours, "cpu.loadgen"),
            column(base, "cpu.loadgen"),
            note=_generator_note(base),
        ),
        Figure(
            NAME,
            "cart CPU (baseline: ceiling app)",
            "% core",
            column(ours, "cpu.cart"),
            column(base, "cpu.cart"),
        ),
        Figure(NAME, "orders CPU", "% core", column(ours, "cpu.orders")),
        Figure(NAME, "kafka CPU", "% core", column(ours, "cpu.kafka")),
    ]
