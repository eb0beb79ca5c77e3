"""``make run``: the local platform in the foreground until Ctrl-C.

Kafka on 9092 (with ``--brokers 3``, a three-node KRaft cluster on 9092, 9094
and 9096), the registry on 8081, cart on 8000, orders on 8001 (with
``--workers N``, worker *i* of each on 8000 + 2i and 8001 + 2i), all data
under ``.data`` (kept across runs); each worker's log lines prefixed with
its name.  A service that exits on its own is started again, as the compose
restart policy does.  Ctrl-C or SIGTERM stops the services first, then Kafka.
"""

import argparse
import logging
import signal
import threading
from pathlib import Path

from local_kafka.stack import LocalStack

logger = logging.getLogger(__name__)

#: How often the launcher looks for a service that exited, to start it again.
RESTART_CHECK_SECONDS = 1.0


def run(stack: LocalStack) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with stack:
        logger.info(
            "ready: cart %s, orders %s, Kafka %s, schema registry %s (Ctrl-C stops)",
            " ".join(worker.base_url for worker in stack.cart_workers),
            " ".join(worker.base_url for worker in stack.order_workers),
            stack.bootstrap_servers,
            stack.registry_url,
        )
        while not stop.wait(RESTART_CHECK_SECONDS):
            for service, status in stack.start_exited():
                logger.warning("%s exited with status %d; starting it again", service.name, status)
        logger.info("stopping the services, then the registry and Kafka")


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Kafka, the registry and both services.")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="default: .data, or .data/cluster-N with --brokers N (the services' state "
        "belongs to one Kafka cluster: a table that remembers other offsets will not start)",
    )
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--registry-port", type=int, default=8081)
    parser.add_argument("--cart-port", type=int, default=8000)
    parser.add_argument("--orders-port", type=int, default=8001)
    parser.add_argument(
        "--brokers",
        type=int,
        default=1,
        help="Kafka nodes (KRaft, each broker and controller); node i on --kafka-port + 2(i-1)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="workers of each service; worker i on --cart-port + 2i and --orders-port + 2i",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="[launcher] %(message)s")
    data_dir = args.data_dir or (
        Path(".data") if args.brokers == 1 else Path(".data") / f"cluster-{args.brokers}"
    )
    run(
        LocalStack(
            data_dir.resolve(),
            kafka_port=args.kafka_port,
            registry_port=args.registry_port,
            cart_port=args.cart_port,
            orders_port=args.orders_port,
            workers=args.workers,
            brokers=args.brokers,
            # Schema ids in the topics must stay resolvable across runs.
            persistent_registry=True,
            relay_logs=True,
        )
    )


if __name__ == "__main__":
    main()
