"""One place for how every client connects: PLAINTEXT by default, TLS and SASL from settings."""

import ssl

import pytest
from pydantic import ValidationError

from app.settings import CartSettings, OrdersSettings
from infra.kafka_connection import KafkaConnection


def test_plaintext_by_default():
    kafka = CartSettings().kafka_connection()

    assert kafka.client_options() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert kafka.faust_options() == {}
    assert kafka.tool_properties() == "security.protocol=PLAINTEXT\n"


def test_sasl_ssl_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ORDERS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("ORDERS_KAFKA_SASL_USERNAME", "orders")
    monkeypatch.setenv("ORDERS_KAFKA_SASL_PASSWORD", "s3cret")

    kafka = OrdersSettings().kafka_connection()
    options = kafka.client_options()

    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == (
        "SCRAM-SHA-256",
        "orders",
    )
    assert options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode is ssl.CERT_REQUIRED
    credentials = kafka.faust_options()["broker_credentials"]
    assert (credentials.protocol.value, credentials.mechanism.value) == (
        "SASL_SSL",
        "SCRAM-SHA-256",
    )
    assert "s3cret" not in repr(kafka)
    assert 'ScramLoginModule required username="orders" password="s3cret";' in (
        kafka.tool_properties()
    )


def test_sasl_without_credentials_is_refused_at_start_up(monkeypatch):
    monkeypatch.setenv("CART_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")

    with pytest.raises(ValidationError, match="needs a SASL username and password"):
        CartSettings()


def test_an_unknown_protocol_is_refused(monkeypatch):
    monkeypatch.setenv("CART_KAFKA_SECURITY_PROTOCOL", "TLS")

    with pytest.raises(ValidationError):
        CartSettings()


def test_the_tools_trust_the_ca_file_the_services_trust(tmp_path):
    kafka = KafkaConnection("b:9093", security_protocol="SSL", ssl_cafile=tmp_path / "ca.pem")

    assert kafka.tool_properties().splitlines() == [
        "security.protocol=SSL",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={tmp_path / 'ca.pem'}",
    ]
