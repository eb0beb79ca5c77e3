"""Settings a service refuses to start with."""

import pytest
from pydantic import ValidationError

from app.settings import CartSettings, OrdersSettings


def test_the_order_topics_are_scannable_by_default():
    assert OrdersSettings().scannable_topics == [
        "order-commands",
        "order-commands.DLQ",
        "order-events",
        "order-events.DLQ",
    ]


def test_scannable_topics_are_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("ORDERS_SCANNABLE_TOPICS", "order-events, audit-events")

    assert OrdersSettings().scannable_topics == ["order-events", "audit-events"]


@pytest.mark.parametrize(
    "internal",
    [
        "__consumer_offsets",
        "order-command-replies",
        "order-platform.write-probes",
        "order-service-shipped_orders_by_id-changelog",
        "cart-service-__assignor-__leader",
        "kafkasql-journal",
        "_schemas",
    ],
)
def test_an_internal_topic_cannot_be_made_scannable(monkeypatch, internal):
    monkeypatch.setenv("ORDERS_SCANNABLE_TOPICS", f"order-events,{internal}")

    with pytest.raises(ValidationError, match="internal topics cannot be scannable"):
        OrdersSettings()


def test_both_services_read_one_partition_count(monkeypatch):
    monkeypatch.setenv("ORDER_TOPIC_PARTITIONS", "12")

    assert CartSettings().topic_partitions == OrdersSettings().topic_partitions == 12


@pytest.mark.parametrize(
    ("variable", "settings"), [("CART_", CartSettings), ("ORDERS_", OrdersSettings)]
)
def test_a_partition_count_of_one_service_alone_is_refused(monkeypatch, variable, settings):
    monkeypatch.setenv(f"{variable}TOPIC_PARTITIONS", "12")

    with pytest.raises(ValidationError, match="set ORDER_TOPIC_PARTITIONS"):
        settings()
