"""The three-broker compose file and the local cluster (``make run BROKERS=3``) agree.

Replication, ``min.insync.replicas`` of the app's topics and of Kafka's
internal ones, and the listener names are taken from one side and checked
against the other: the local cluster's rule (``local_kafka.cluster``) and
its broker configuration template, against the compose brokers' variables.
"""

import re

import pytest

from local_kafka.broker import CONFIG_TEMPLATE
from local_kafka.cluster import replication_of
from tests.unit.deploy.deploy_files import environment, load

BROKERS = ("kafka", "kafka-2", "kafka-3")


def template_settings() -> dict[str, str]:
    """The broker template's keys: the literal values, ``{…}`` where it takes a parameter."""
    return dict(
        line.split("=", 1)
        for line in CONFIG_TEMPLATE.read_text().splitlines()
        if line and not line.startswith("#")
    )


def compose_setting(env: dict[str, str], key: str) -> str:
    """A broker property as the compose file sets it (the official image's variable rule)."""
    return env["KAFKA_" + key.upper().replace(".", "_")]


@pytest.fixture(scope="module")
def cluster_brokers() -> list[dict[str, str]]:
    services = load("cluster")
    return [environment(services[name]) for name in BROKERS]


def test_replication_and_min_isr_are_the_local_clusters(cluster_brokers) -> None:
    replication, min_isr = replication_of(len(BROKERS))
    services = load("cluster")
    topic_init = services["topic-init"]["command"]
    assert topic_init[topic_init.index("--replication-factor") + 1] == str(replication)
    wanted = {"{replication_factor}": str(replication), "{min_isr}": str(min_isr)}
    parameters = {key: wanted[v] for key, v in template_settings().items() if v in wanted}
    # The default replication, min ISR, and the internal topics' (offsets, transactions …).
    assert len(parameters) >= 6, parameters
    for env in cluster_brokers:
        assert {key: compose_setting(env, key) for key in parameters} == parameters


def test_listener_names_are_the_local_clusters(cluster_brokers) -> None:
    local = template_settings()
    local_names = set(re.findall(r"(\w+)://", local["listeners"]))
    for env in cluster_brokers:
        for key in ("controller.listener.names", "inter.broker.listener.name"):
            assert compose_setting(env, key) == local[key], key
        # Compose adds a listener for the host; the local ones it has too.
        assert local_names <= set(re.findall(r"(\w+)://", env["KAFKA_LISTENERS"]))
