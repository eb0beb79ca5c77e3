"""Command line: ``python -m local_kafka {fetch,run,tool,fetch-registry,registry} ...``.

python -m local_kafka fetch
python -m local_kafka run --port 9092 --data-dir .data/kafka
python -m local_kafka tool topics --list
python -m local_kafka tool console-consumer --topic order-events --from-beginning
python -m local_kafka fetch-registry
python -m local_kafka registry --port 8081 --data-dir .data/registry [--in-memory]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Protocol

from app.settings import CartSettings
from local_kafka.apicurio import ensure_registry
from local_kafka.broker import KafkaBroker
from local_kafka.fetch import FetchError, ensure_libs
from local_kafka.jvm import JavaNotFoundError, run_tool
from local_kafka.process import ServiceError
from local_kafka.registry import SchemaRegistry

logger = logging.getLogger("local_kafka")

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"

# name -> (Kafka main class, the flag naming its client properties file, default
# arguments placed before the user's so theirs win).
TOOLS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "topics": ("org.apache.kafka.tools.TopicCommand", "--command-config", ()),
    "console-consumer": (
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--consumer.config",
        ("--property", "print.key=true", "--property", "key.separator= | "),
    ),
    "console-producer": ("org.apache.kafka.tools.ConsoleProducer", "--producer.config", ()),
    "consumer-groups": (
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--command-config",
        (),
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "fetch":
            logger.info("Kafka jars are in %s", ensure_libs())
            return 0
        if args.command == "run":
            broker = KafkaBroker(
                args.data_dir, args.port, args.controller_port, log_to_terminal=True
            )
            return _serve(broker, "Kafka", broker.bootstrap_servers, args.timeout)
        if args.command == "fetch-registry":
            logger.info("Apicurio Registry is in %s", ensure_registry())
            return 0
        if args.command == "registry":
            registry = SchemaRegistry(
                args.data_dir, args.port, args.management_port, persistent=not args.in_memory
            )
            address = f"{registry.url} (log: {registry.log_path})"
            return _serve(registry, "Schema registry", address, args.timeout)
        return _tool(args.tool, args.bootstrap_server, args.tool_args)
    except (ServiceError, FetchError, JavaNotFoundError) as exc:
        # Expected failures (port taken, no Maven...): the message says it all.
        logger.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_kafka",
        description="Local Apache Kafka (KRaft) and a schema registry for dev and tests.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("fetch", help="download the Kafka jars into .cache/kafka (idempotent)")

    run = commands.add_parser("run", help="run a broker in the foreground until Ctrl-C")
    run.add_argument("--port", type=int, default=9092, help="client port (default: 9092)")
    run.add_argument(
        "--controller-port",
        type=int,
        default=9093,
        help="KRaft controller port (default: 9093)",
    )
    run.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".data/kafka"),
        help="default: .data/kafka",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=90,
        help="seconds to wait for readiness (default: 90)",
    )

    tool = commands.add_parser(
        "tool",
        help="run a Kafka CLI tool against the broker",
        description="Anything after the tool name is passed to Kafka's tool unchanged.",
    )
    tool.add_argument(
        "--bootstrap-server",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
        help=f"default: $KAFKA_BOOTSTRAP_SERVERS or {DEFAULT_BOOTSTRAP}",
    )
    tool.add_argument("tool", choices=sorted(TOOLS))
    tool.add_argument("tool_args", nargs=argparse.REMAINDER, metavar="ARGS")

    commands.add_parser(
        "fetch-registry",
        help="download Apicurio Registry into .cache/apicurio (idempotent)",
    )
    registry = commands.add_parser(
        "registry",
        help="run a Confluent-compatible schema registry in the foreground until Ctrl-C",
        description="Apicurio Registry; clients use http://127.0.0.1:PORT/apis/ccompat/v7.",
    )
    registry.add_argument("--port", type=int, default=8081, help="HTTP port (default: 8081)")
    registry.add_argument(
        "--management-port",
        type=int,
        default=0,
        help="Quarkus management port, unused by Apicurio 3.0.9 (default: any free port)",
    )
    registry.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".data/registry"),
        help="log and database (default: .data/registry)",
    )
    registry.add_argument(
        "--in-memory",
        action="store_true",
        help="keep schemas in memory only: they are lost when the registry stops",
    )
    registry.add_argument(
        "--timeout",
        type=float,
        default=120,
        help="seconds to wait for readiness (default: 120)",
    )
    return parser


class _Service(Protocol):
    log_path: Path

    @property
    def is_running(self) -> bool: ...

    def start(self, timeout: float) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...


def _serve(service: _Service, name: str, address: str, timeout: float) -> int:
    """Run ``service`` until SIGINT/SIGTERM, then stop it cleanly."""
    # SIGTERM (from make, docker-style supervisors, `kill`) must stop the service too:
    # turn it into the same KeyboardInterrupt that Ctrl-C raises.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        service.start(timeout)
        logger.info("%s ready on %s (Ctrl-C to stop)", name, address)
        while service.is_running:
            time.sleep(0.5)
        logger.error("%s exited unexpectedly; see %s", name, service.log_path)
        return 1
    except KeyboardInterrupt:
        logger.info("Stopping %s", name)
        return 0
    finally:
        service.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _tool(name: str, bootstrap_server: str, tool_args: Sequence[str]) -> int:
    """Kafka's tool, connected as the services are (``CART_KAFKA_SECURITY_PROTOCOL`` …)."""
    main_class, config_flag, defaults = TOOLS[name]
    args = [*defaults, *tool_args]
    if not any(arg.split("=", 1)[0] == "--bootstrap-server" for arg in args):
        args = ["--bootstrap-server", bootstrap_server, *args]
    with tempfile.NamedTemporaryFile("w", suffix=".properties") as properties:
        properties.write(CartSettings().kafka_connection().tool_properties())
        properties.flush()
        if config_flag not in args:
            args = [config_flag, properties.name, *args]
        return run_tool(main_class, args, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
