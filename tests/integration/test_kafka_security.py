"""Both services through a SASL_SSL listener: TLS verified against a CA made here, SCRAM.

The broker has a PLAINTEXT listener too (its own and the controllers'); the
services are given only the SASL_SSL one, with the settings every Kafka client
of theirs is built from (``<PREFIX>KAFKA_SECURITY_PROTOCOL`` and the rest).
"""

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError

from app.settings import order_service_app_id
from infra.kafka_connection import KafkaConnection
from infra.kafka_metadata import wait_for_kafka
from infra.topics import create_topics, platform_topics
from local_kafka.broker import KafkaBroker, SecureListener
from local_kafka.jvm import java_executable
from local_kafka.probe import free_port
from local_kafka.services import ServiceProcess
from local_kafka.stack import PARTITIONS, SERVICES
from tests.integration.client import call, eventually

USER, PASSWORD = "order-platform", "test-only-secret"
STORE_PASSWORD = "test-only-store"


def keytool(arguments: str, folder: Path) -> None:
    """The JDK's keytool (beside the java that runs Kafka), on the stores in ``folder``."""
    tool = Path(java_executable()).parent / "keytool"
    command = [str(tool), *arguments.split(), "-storetype", "PKCS12", "-storepass", STORE_PASSWORD]
    subprocess.run(command, cwd=folder, check=True, capture_output=True, timeout=60)


def make_ca_and_broker_keystore(folder: Path) -> tuple[Path, Path]:
    """A self-signed CA (PEM, for the clients) and the broker's PKCS12 keystore: its key and
    a certificate for 127.0.0.1 signed by that CA."""
    for step in (
        "-genkeypair -alias ca -keyalg RSA -dname CN=test-ca -ext bc:c -validity 2 "
        "-keystore ca.p12",
        "-exportcert -rfc -alias ca -keystore ca.p12 -file ca.pem",
        "-genkeypair -alias broker -keyalg RSA -dname CN=127.0.0.1 -validity 2 "
        "-keystore broker.p12",
        "-certreq -alias broker -keystore broker.p12 -file broker.csr",
        "-gencert -alias ca -keystore ca.p12 -infile broker.csr -outfile broker.pem -rfc "
        "-ext san=ip:127.0.0.1 -validity 2",
        "-importcert -noprompt -alias ca -file ca.pem -keystore broker.p12",
        "-importcert -alias broker -file broker.pem -keystore broker.p12",
    ):
        keytool(step, folder)
    return folder / "ca.pem", folder / "broker.p12"


@pytest.fixture(scope="module")
def secure_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServiceProcess]]:
    workdir = tmp_path_factory.mktemp("sasl-ssl")
    ca, keystore = make_ca_and_broker_keystore(workdir)
    listener = SecureListener(free_port(), keystore, STORE_PASSWORD, {USER: PASSWORD})
    broker = KafkaBroker(workdir / "kafka", secure_listener=listener)
    kafka = KafkaConnection(
        listener.bootstrap_servers,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username=USER,
        sasl_password=PASSWORD,
        ssl_cafile=ca,
    )
    services = []
    for name, (module, prefix) in SERVICES.items():
        env = {
            f"{prefix}KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            f"{prefix}KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            f"{prefix}KAFKA_SASL_USERNAME": USER,
            f"{prefix}KAFKA_SASL_PASSWORD": PASSWORD,
            f"{prefix}KAFKA_SSL_CAFILE": str(ca),
        }
        services.append(
            ServiceProcess(
                name,
                module,
                prefix,
                bootstrap_servers=listener.bootstrap_servers,
                port=free_port(),
                data_dir=workdir / "state",
                log_path=workdir / f"{name}.log",
                extra_env=env,
            )
        )
    with broker:
        asyncio.run(create_topics(kafka, PARTITIONS, 1, platform_topics(order_service_app_id())))
        try:
            for service in services:
                service.start()
            for service in services:
                service.wait_ready()
            yield services
        finally:
            for service in services:
                service.stop()


async def test_create_then_details_through_sasl_ssl(http, secure_services, order_id):
    cart, orders = (service.base_url for service in secure_services)

    created = await call(
        http, "POST", f"{cart}/create-order", json={"orderId": order_id, "numItems": 2}
    )
    _, found, _ = await eventually(
        lambda: call(http, "GET", f"{orders}/order-details?orderId={order_id}"),
        lambda r: r[0] == 200,
    )
    # Twice: the second scan reuses the first one's consumer and its TLS connections.
    scans = []
    for _ in range(2):
        started = time.monotonic()
        _, scan, _ = await call(
            http, "GET", f"{orders}/getAllOrderIdsFromTopic?topicName=order-events"
        )
        scans.append((scan, time.monotonic() - started))

    assert created[0] == 201
    assert found["totalAmount"] == created[1]["totalAmount"]
    assert all(order_id in scan["orderIds"] for scan, _ in scans)
    # A consumer stopped with a fetch in flight waits 30 s for the TLS goodbye.
    assert all(seconds < 5 for _, seconds in scans), scans


async def test_a_wrong_password_is_refused_by_the_broker(secure_services, caplog):
    listener_servers = secure_services[0].env["CART_KAFKA_BOOTSTRAP_SERVERS"]
    ca = secure_services[0].env["CART_KAFKA_SSL_CAFILE"]
    intruder = KafkaConnection(
        listener_servers,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username=USER,
        sasl_password="not-the-password",
        ssl_cafile=Path(ca),
    )

    with pytest.raises(KafkaError):
        await wait_for_kafka(intruder, timeout=0)
    assert "SaslAuthenticationFailed" in caplog.text
