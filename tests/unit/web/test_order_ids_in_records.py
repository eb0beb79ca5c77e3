"""Reading an orderId out of any record a topic may hold."""

import pytest
from aiokafka import ConsumerRecord

from models.codec import dumps
from web.topic_scan import order_id_in, order_id_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"orderId": "ORD-1"}, "ORD-1"),
        ({"order": {"orderId": "ORD-2"}}, "ORD-2"),
        ({"orderId": "ORD-3", "order": {"orderId": "ORD-4"}}, "ORD-3"),
        ({"orderId": 7, "order": {"orderId": "ORD-5"}}, "ORD-5"),
        ({"order": "x"}, None),
        ({"order": [1, 2]}, None),
        ({"order": None}, None),
        ({"orderId": ""}, None),
        ({"orderId": "x" * 65}, None),
        ({"orderId": "has space"}, None),
        ({"orderId": ["ORD-6"]}, None),
        (None, None),
        ([], None),
        ("ORD-7", None),
        (12, None),
    ],
)
def test_should_read_an_order_id_only_where_a_valid_one_is(value, expected):
    assert order_id_in(value) == expected


def record(key: bytes | None, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord("t", 0, 0, 0, 0, key, value, None, 0, 0, [])


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (b"ORD-1", dumps({"orderId": "ORD-2"}), "ORD-2"),
        (b"ORD-1", dumps({"order": "x"}), "ORD-1"),
        (b"ORD-1", b"\xff\xfe not json", "ORD-1"),
        (b"ORD-1", None, "ORD-1"),
        (None, b"\x00\x00\x00\x00\x01avro-framed without a registry", None),
        (b"\xff\xfe", b"null", None),
        (b"not an/order id", b"[]", None),
        (None, None, None),
    ],
)
async def test_should_fall_back_to_the_key_and_name_none_when_neither_holds_one(
    key, value, expected
):
    assert await order_id_of(record(key, value), registry=None) == expected
