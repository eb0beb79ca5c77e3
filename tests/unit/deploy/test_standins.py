"""The local stand-ins for unpullable images keep the interface the compose files use."""

import os
import subprocess
import sys

from tests.unit.deploy.deploy_files import ROOT, VARIANTS, load

# The check's package lives in docker/ (run as PYTHONPATH=docker python -m stackcheck).
sys.path.insert(0, str(ROOT / "docker"))
from stackcheck import scenarios, standins

ENV_TO_PROPERTIES = ROOT / "docker" / "standins" / "kafka" / "env-to-properties"


def broker_properties(env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        ["bash", str(ENV_TO_PROPERTIES)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_kafka_variables_become_properties_as_in_the_official_image() -> None:
    # The official image's own examples (kafka.docker.KafkaDockerWrapperTest).
    env = {
        "KAFKA_VALID_PROPERTY": "Value",
        "KAFKA_VALID___PROPERTY__ALL_CASES": "All Cases Value",
        "KAFKA_KAFKA_VALID_PROPERTY": "Value",
        "SOME_VARIABLE": "Some Value",
        "KAFKA_TOOLS_LOG4J_LOGLEVEL": "TRACE",
        "KAFKA_HEAP_OPTS": "-Xmx1G",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
    }
    assert sorted(broker_properties(env)) == [
        "kafka.valid.property=Value",
        "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
        "valid-property_all.cases=All Cases Value",
        "valid.property=Value",
    ]


def test_the_compose_kafka_settings_map_to_real_broker_properties() -> None:
    services = load("cluster")
    env = {k: str(v) for k, v in services["kafka-2"]["environment"].items()}
    properties = dict(line.split("=", 1) for line in broker_properties(env))
    assert properties["node.id"] == "2"
    assert properties["controller.quorum.voters"].count("@") == 3
    assert properties["min.insync.replicas"] == "2"
    assert "heap.opts" not in properties


def test_every_image_the_check_starts_can_be_had_without_a_registry() -> None:
    used = {
        service["image"]
        for variant in VARIANTS
        for name, service in load(variant).items()
        if name not in scenarios.NOT_STARTED and "build" not in service
    }
    built_here = {s["image"] for v in VARIANTS for s in load(v).values() if "build" in s}
    assert used - built_here | {"python:3.11.17-slim-bookworm"} == set(standins.UPSTREAM)
    for folder, _, _ in standins.UPSTREAM.values():
        assert (standins.STANDINS / folder / "Dockerfile").is_file()
