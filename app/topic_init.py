"""The topic-init step: ``python -m app.topic_init``, creates every topic (idempotent).

Run once before the services (the compose file's ``topic-init`` job); it
waits for a broker that is still starting instead of failing at once.
"""

import argparse
import asyncio
import dataclasses
import logging

from app.settings import CartSettings, order_service_app_id
from infra.topics import create_topics, platform_topics

#: How long topic-init waits for the broker before it fails.
STARTUP_WAIT_SECONDS = 120.0


def main() -> None:
    defaults = CartSettings()
    parser = argparse.ArgumentParser(description="Create the platform's topics.")
    parser.add_argument("--bootstrap-servers", default=defaults.kafka_bootstrap_servers)
    parser.add_argument("--partitions", type=int, default=defaults.topic_partitions)
    parser.add_argument("--replication-factor", type=int, default=defaults.topic_replication_factor)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Connected as the services are (CART_KAFKA_SECURITY_PROTOCOL and the rest).
    kafka = dataclasses.replace(
        defaults.kafka_connection(), bootstrap_servers=args.bootstrap_servers
    )
    asyncio.run(
        create_topics(
            kafka,
            args.partitions,
            args.replication_factor,
            platform_topics(order_service_app_id()),
            startup_wait=STARTUP_WAIT_SECONDS,
        )
    )


if __name__ == "__main__":
    main()
