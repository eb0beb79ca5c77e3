"""Avro schemas of the command and event values, beside the Records they carry.

Built from shared parts, so ``Order`` is defined once.  A unit test sends
every record through these schemas and back (``to_wire`` → Avro →
``from_wire``), which keeps Records and schemas in agreement.

Choices: money is an Avro ``decimal`` (bytes, scale 2); timestamps and
statuses are strings (ISO-8601 UTC with ``Z``; a status name), because a
new status would break readers of an Avro enum that has no default.
Evolution rule: BACKWARD — a new version may add fields with defaults and
drop fields; consumers upgrade first.
"""

from typing import Any

NAMESPACE = "io.orderevents"
MONEY = {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}

ORDER_ITEM: dict[str, Any] = {
    "type": "record",
    "name": "OrderItem",
    "fields": [
        {"name": "itemId", "type": "string"},
        {"name": "quantity", "type": "int"},
        {"name": "price", "type": MONEY},
    ],
}

ORDER: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "orderId", "type": "string"},
        {"name": "customerId", "type": "string"},
        {"name": "orderDate", "type": "string", "doc": "ISO-8601, UTC, Z"},
        {"name": "items", "type": {"type": "array", "items": ORDER_ITEM}},
        {"name": "totalAmount", "type": MONEY},
        {"name": "currency", "type": "string", "doc": "ISO-4217"},
        {"name": "status", "type": "string"},
    ],
}

ORDER_EVENT: dict[str, Any] = {
    "type": "record",
    "name": "OrderEvent",
    "namespace": NAMESPACE,
    "fields": [
        {"name": "eventId", "type": "string"},
        {"name": "eventType", "type": "string", "doc": "OrderCreated | OrderStatusChanged"},
        {"name": "orderId", "type": "string"},
        {"name": "version", "type": "int"},
        {"name": "occurredAt", "type": "string"},
        {"name": "order", "type": ORDER},
    ],
}

ORDER_COMMAND: dict[str, Any] = {
    "type": "record",
    "name": "OrderCommand",
    "namespace": NAMESPACE,
    "fields": [
        {"name": "commandId", "type": "string"},
        {"name": "commandType", "type": "string", "doc": "CreateOrder | UpdateOrderStatus"},
        {"name": "orderId", "type": "string"},
        {"name": "issuedAt", "type": "string"},
        {"name": "order", "type": ["null", ORDER], "default": None},
        {"name": "status", "type": ["null", "string"], "default": None},
        {"name": "ifMatch", "type": ["null", {"type": "array", "items": "int"}], "default": None},
        {"name": "idempotencyKey", "type": ["null", "string"], "default": None},
        {"name": "requestHash", "type": ["null", "string"], "default": None},
    ],
}
