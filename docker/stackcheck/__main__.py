"""`make docker-test`: build and drive the compose stacks on a real Docker engine.

    python -m stackcheck [--stack one|three|both]     (PYTHONPATH=docker, from the repo)

Needs a running engine and Compose v2; installs nothing. Images that cannot be
pulled are replaced by local stand-ins (standins.py). Prints a table of every
check with its time; exits 0 only if all passed, 2 if no engine is reachable.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from stackcheck import scenarios, standins
from stackcheck.engine import Compose, engine_problem
from stackcheck.report import Report

STACKS = {
    "one": ("one broker", ["docker-compose.yml"], scenarios.single_broker),
    "three": (
        "three brokers",
        ["docker-compose.yml", "docker-compose.cluster.yml"],
        scenarios.three_brokers,
    ),
}
#: The FROM of the project's Dockerfile.
PROJECT_BASE = "python:3.11.17-slim-bookworm"
#: Where a host that trusts extra CAs (a TLS-intercepting proxy) keeps its bundle.
HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")


def host_ca_bundle() -> str | None:
    """The CA bundle the image build should trust, if this host trusts extra CAs."""
    if given := os.environ.get("ORDER_EVENTS_CA_BUNDLE"):
        return given
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if (path := os.environ.get(variable)) and Path(path).is_file():
            return path
    if any(EXTRA_CA_DIR.glob("**/*.crt")) and HOST_BUNDLE.is_file():
        return str(HOST_BUNDLE)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(prog="make docker-test", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", choices=[*STACKS, "both"], default="both")
    args = parser.parse_args()
    if problem := engine_problem():
        print(f"make docker-test: {problem}; nothing was checked.", file=sys.stderr)
        return 2
    started = time.monotonic()
    report = Report()
    env = {"ORDER_EVENTS_CA_BUNDLE": bundle} if (bundle := host_ca_bundle()) else {}
    chosen = list(STACKS) if args.stack == "both" else [args.stack]
    try:
        composes = {key: Compose(STACKS[key][1], env) for key in chosen}
        services = [
            s
            for c in composes.values()
            for n, s in c.services.items()
            if n not in scenarios.NOT_STARTED
        ]
        built = {s["image"] for s in services if "build" in s}
        # The project image's base too: its build needs it.
        images = sorted({s["image"] for s in services} - built | {PROJECT_BASE})
        with report.step("images", "upstream images pulled, present or stand-ins") as row:
            origin = standins.provide(images)
            row.detail = "; ".join(f"{image}: {how}" for image, how in origin.items())
        if bundle:
            print(f"The image build trusts the host's CA bundle {bundle} (build secret).")
        for key in chosen:
            stack, _, scenario = STACKS[key]
            compose = composes[key]
            try:
                scenario(report, compose)
            except Exception as error:  # recorded in the table; the next stack still runs
                print(f"{stack}: stopped at a failed check ({type(error).__name__})", flush=True)
            finally:
                compose.remove()
    except Exception as error:
        print(f"make docker-test: {type(error).__name__}: {error}", file=sys.stderr)
    print()
    print(report.table())
    verdict = "passed" if report.ok else "FAILED"
    print(f"\nmake docker-test {verdict} in {time.monotonic() - started:.0f}s")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
