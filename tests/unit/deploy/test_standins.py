"""The local stand-ins for unpullable images keep the interface the compose files use."""

import os
import re
import struct
import subprocess
import sys
import zipfile

import pytest

from local_kafka.fetch import CACHE_ROOT, kafka_version
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


def test_the_kafka_health_check_sends_a_well_formed_api_versions_request() -> None:
    """The bytes the compose health check writes with printf: size, ApiVersions (18) v0."""
    for variant in VARIANTS:
        for name, service in load(variant).items():
            if not service["image"].startswith("apache/kafka:"):
                continue
            script = service["healthcheck"]["test"][3]
            (template,) = re.findall(r"printf '([^']*)' >&3", script)
            request = template.encode().decode("unicode_escape").encode("latin-1")
            size, api_key, api_version, correlation_id = struct.unpack(">iHHi", request[:12])
            assert size == len(request) - 4, name
            assert (api_key, api_version, correlation_id) == (18, 0, 1), name
            # The reply it expects: correlation id 1, error code 0 (after the size).
            assert "== 000000010000 ]]" in script


def test_every_tool_script_of_the_kafka_stand_in_names_a_class_kafka_has() -> None:
    libs = CACHE_ROOT / kafka_version() / "libs"
    if not (libs.parent / "complete").exists():
        pytest.skip("the Kafka jars are not fetched (make fetch)")
    classes = set()
    for jar in libs.glob("kafka*.jar"):
        with zipfile.ZipFile(jar) as archive:
            classes |= {n[: -len(".class")].replace("/", ".") for n in archive.namelist()}
    tool = (ROOT / "docker" / "standins" / "kafka" / "kafka-tool").read_text()
    named = set(re.findall(r"kafka-run-class\.sh\" ((?:kafka|org)\.[\w.]+)", tool))
    assert len(named) >= 10
    assert named <= classes, named - classes
