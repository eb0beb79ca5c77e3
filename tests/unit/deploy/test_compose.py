"""The container setup agrees with the code; read statically, no Docker needed.

Both compose variants (one broker; three brokers) against the settings, the
topic registry and setup.cfg; the Dockerfile and .dockerignore likewise. A
service's environment is the Dockerfile's ``ENV`` under the compose
``environment``, as the container sees it.
"""

import configparser
import json
import os
import re
import shlex
import sys
from typing import Any
from urllib.parse import urlparse

import pytest

from app import topic_init
from app.settings import CartSettings, OrdersSettings, ServiceSettings, order_service_app_id
from infra import topics
from local_kafka.apicurio import APICURIO_VERSION
from local_kafka.registry import CCOMPAT_PATH
from tests.unit.deploy.deploy_files import (
    ROOT,
    VARIANTS,
    Services,
    dockerfile,
    dockerfile_env,
    dockerfile_text,
    environment,
    instructions,
    load,
    published,
)

#: compose service -> (settings class, Faust entry module)
APP_SERVICES = {"cart": (CartSettings, "app.cart"), "orders": (OrdersSettings, "app.orders")}
PREFIXES = tuple(cls.model_config["env_prefix"] for cls, _ in APP_SERVICES.values())
#: Dependencies a service waits for by itself, so compose need only start them first.
STARTED_IS_ENOUGH = {("cart", "schema-registry"), ("orders", "schema-registry")}
#: The port the official Apicurio Registry image serves HTTP on.
REGISTRY_PORT = 8080


def app_image(services: Services) -> str:
    (image,) = {s["image"] for s in services.values() if "build" in s}
    return image


def has_healthcheck(services: Services, name: str) -> bool:
    check = services[name].get("healthcheck")
    if check is not None:
        return not check.get("disable", False)
    return services[name]["image"] == app_image(services) and bool(instructions("HEALTHCHECK"))


def topic_init_args(services: Services) -> dict[str, str]:
    command = services["topic-init"]["command"]
    assert command[:3] == ["python", "-m", "app.topic_init"], "topic-init must run app.topic_init"
    return dict(zip(command[3::2], command[4::2], strict=True))


def settings_of(services: Services, name: str, monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    """The settings the service builds inside its container."""
    for key in list(os.environ):
        if key.startswith(PREFIXES):
            monkeypatch.delenv(key)
    for key, value in {**dockerfile_env(), **environment(services[name])}.items():
        monkeypatch.setenv(key, value)
    return APP_SERVICES[name][0]()


@pytest.fixture(params=list(VARIANTS))
def services(request: pytest.FixtureRequest) -> Services:
    return load(request.param)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_listen_where_compose_publishes_them(
    services: Services, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = services[name]
    cls, module = APP_SERVICES[name]
    settings = settings_of(services, name, monkeypatch)
    assert service["image"] == app_image(services)
    assert service["command"][:6] == ["faust", "-L", "uvloop", "-A", module, "worker"]
    assert settings.web_port == cls.model_fields["web_port"].default  # 8000 / 8001
    assert published(service) == {settings.web_port: settings.web_port}
    assert environment(service)["HEALTHCHECK_PORT"] == str(settings.web_port)
    assert settings.web_bind == "0.0.0.0"
    assert settings.web_host == name  # other containers reach it by its service name
    assert settings.value_format == "avro"
    registry = urlparse(settings.schema_registry_url)
    assert services[str(registry.hostname)]["image"].startswith("apicurio/apicurio-registry:")
    # Apicurio listens on 8080 in its container; its Confluent API is under ccompat.
    assert (registry.port, registry.path) == (REGISTRY_PORT, CCOMPAT_PATH)
    assert REGISTRY_PORT in published(services[str(registry.hostname)])
    brokers = {server.rsplit(":", 1)[0] for server in settings.kafka_bootstrap_servers.split(",")}
    assert brokers <= set(services)


def test_every_prefixed_variable_is_a_settings_field(services: Services) -> None:
    everywhere = [("Dockerfile", dockerfile_env())]
    everywhere += [(name, environment(service)) for name, service in services.items()]
    for where, env in everywhere:
        for key in env:
            for cls, _ in APP_SERVICES.values():
                prefix = cls.model_config["env_prefix"]
                if key.startswith(prefix) and not key.startswith(f"{prefix}FAUST_"):
                    field = key.removeprefix(prefix).lower()
                    assert field in cls.model_fields, f"{where}: {key} is no {cls.__name__} field"
            if where in APP_SERVICES and key.startswith(PREFIXES):
                own = APP_SERVICES[where][0].model_config["env_prefix"]
                assert key.startswith(own), f"{where} sets another service's {key}"


def test_topic_init_creates_the_topics_the_services_declare(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = topic_init_args(services)
    assert services["topic-init"]["image"] == app_image(services)
    assert services["topic-init"].get("restart") == "no"
    for name in APP_SERVICES:
        settings = settings_of(services, name, monkeypatch)
        assert args["--bootstrap-servers"] == settings.kafka_bootstrap_servers
        assert int(args["--partitions"]) == settings.topic_partitions
        assert int(args["--replication-factor"]) == settings.topic_replication_factor
        condition = services[name]["depends_on"]["topic-init"]["condition"]
        assert condition == "service_completed_successfully"


def test_topic_init_command_runs_the_cli(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compose command through app.topic_init's own CLI, against a fake admin client."""
    created: list[Any] = []

    class FakeAdmin:
        def __init__(self, **kwargs: Any) -> None:
            pass

        async def start(self) -> None:
            pass

        async def close(self) -> None:
            pass

        async def create_topics(self, new_topics: list[Any]) -> Any:
            created.extend(new_topics)
            return type("Response", (), {"topic_errors": [(t.name, 0) for t in new_topics]})

    async def broker_is_up(bootstrap_servers: str, timeout: float) -> None:
        pass

    monkeypatch.setattr(topics, "AIOKafkaAdminClient", FakeAdmin)
    monkeypatch.setattr(topics, "wait_for_kafka", broker_is_up)
    monkeypatch.setattr(sys, "argv", ["app.topic_init", *services["topic-init"]["command"][3:]])
    topic_init.main()
    rf = int(topic_init_args(services)["--replication-factor"])
    assert sorted(t.name for t in created) == sorted(
        spec.name for spec in topics.platform_topics(order_service_app_id())
    )
    for topic in created:
        assert topic.replication_factor == rf
        assert topic.topic_configs["min.insync.replicas"] == str(min(2, rf))


def test_images_are_pinned(services: Services) -> None:
    for name, service in services.items():
        tag = service["image"].rpartition(":")[2]
        assert re.fullmatch(r"v?\d+(\.\d+)+", tag), f"{name}: {service['image']} is not pinned"
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert app_image(services).endswith(":" + cfg["metadata"]["version"])
    # One build of the app image: two services building one tag collide.
    assert [name for name, s in services.items() if "build" in s] == ["topic-init"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", instructions("FROM")[0])


def test_dependencies_have_healthchecks(services: Services) -> None:
    for name, service in services.items():
        if service.get("restart", "no") != "no":
            assert has_healthcheck(services, name), f"{name} runs for good but has no healthcheck"
        for target, how in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            if how["condition"] == "service_healthy":
                assert has_healthcheck(services, target), f"{name} waits on {target}'s health"
            elif how["condition"] == "service_started":
                # Only where the dependant waits for it itself (the schema registration).
                assert (name, target) in STARTED_IS_ENOUGH, f"{name} must wait for {target}"
            else:
                assert how["condition"] == "service_completed_successfully"
                assert services[target].get("restart") == "no"
    host_ports = [port for s in services.values() for port in published(s).values()]
    assert len(host_ports) == len(set(host_ports)), "two services publish one host port"


@pytest.mark.parametrize(("variant", "size"), [("single", 1), ("cluster", 3)])
def test_brokers_form_one_quorum(variant: str, size: int) -> None:
    services = load(variant)
    brokers = {n: environment(s) for n, s in services.items() if "apache/kafka" in s["image"]}
    assert len(brokers) == size
    assert len({services[n]["image"] for n in brokers}) == 1
    voters = {f"{env['KAFKA_NODE_ID']}@{name}:9093" for name, env in brokers.items()}
    for name, env in brokers.items():
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["CLUSTER_ID"] == brokers["kafka"]["CLUSTER_ID"]
        assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == size
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == min(2, size)
        internal, external = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
        assert internal == f"PLAINTEXT://{name}:9092"
        assert external.rsplit(":", 1)[1] == str(published(services[name])[29092])
    assert int(topic_init_args(services)["--replication-factor"]) == size


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    assert instructions("USER")[-1].split(":")[0] not in ("root", "0")
    (check,) = instructions("HEALTHCHECK")
    assert "/ready" in check  # healthy = ready for requests (what `up --wait` waits for)
    assert "HEALTHCHECK_PORT" in check
    assert (
        shlex.join(json.loads(instructions("CMD")[-1]))
        == "faust -L uvloop -A app.cart worker -l info"
    )
    # The dependencies are installed before the source is copied (a cached layer).
    steps = dockerfile()
    first, second = [i for i, (name, _) in enumerate(steps) if name == "COPY"][:2]
    assert steps[first][1].split()[:-1] == ["setup.cfg", "pyproject.toml"]
    assert any(n == "RUN" and "pip install" in args for n, args in steps[first:second])
    # RocksDB state: a named volume per service in compose, and no VOLUME in the
    # image (it would leave an anonymous volume behind every topic-init run).
    env = dockerfile_env()
    assert instructions("VOLUME") == []
    for variant in VARIANTS:
        for name in APP_SERVICES:
            targets = [volume.split(":")[1] for volume in load(variant)[name]["volumes"]]
            assert targets == [env["CART_DATA_DIR"]] == [env["ORDERS_DATA_DIR"]]
    assert not any(name == "RUN" and "--system" in args for name, args in steps)
    assert not dockerfile_text().startswith("# syntax=")


def test_the_registry_is_the_one_the_local_run_uses(services: Services) -> None:
    registry = services["schema-registry"]
    assert registry["image"] == f"apicurio/apicurio-registry:{APICURIO_VERSION}"
    env = environment(registry)
    # Schemas in Kafka (they survive restarts with Kafka's volume), on every broker.
    assert env["APICURIO_STORAGE_KIND"] == "kafkasql"
    brokers = {n for n, s in services.items() if s["image"].startswith("apache/kafka:")}
    assert {b.rsplit(":", 1)[0] for b in env["APICURIO_KAFKASQL_BOOTSTRAP_SERVERS"].split(",")} == (
        brokers
    )
    ui = environment(services["kafka-ui"])["KAFKA_CLUSTERS_0_SCHEMAREGISTRY"]
    assert ui == f"http://schema-registry:{REGISTRY_PORT}{CCOMPAT_PATH}"


def test_the_kafka_ui_only_looks(services: Services) -> None:
    assert environment(services["kafka-ui"])["KAFKA_CLUSTERS_0_READONLY"] == "true"


#: The paths each upstream image declares as VOLUME (read off the official images).
IMAGE_VOLUMES = {
    "apache/kafka": ["/etc/kafka/secrets", "/var/lib/kafka/data", "/mnt/shared/config"],
}


def test_no_service_gets_an_anonymous_volume(services: Services) -> None:
    """Every path an image declares as a volume is mounted (named volume or tmpfs)."""
    for name, service in services.items():
        declared = IMAGE_VOLUMES.get(service["image"].partition(":")[0], [])
        mounted = [str(v).split(":")[1] for v in service.get("volumes", [])]
        mounted += service.get("tmpfs", [])
        assert set(declared) <= set(mounted), f"{name} leaves an anonymous volume"


def test_dockerignore_lets_in_exactly_the_installed_packages() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    include = cfg["options.packages.find"]["include"].replace(",", " ").split()
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = [line[1:].strip() for line in lines if line.startswith("!")]
    assert {a.rstrip("/") for a in allowed if a.endswith("/")} == {n.split(".")[0] for n in include}
    assert {"setup.cfg", "pyproject.toml", "README.md"} <= set(allowed)  # README: long_description
