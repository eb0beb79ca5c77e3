"""What clients send is read as I-JSON (RFC 7493)."""

from decimal import Decimal

import pytest

from models.codec import loads, loads_strict


def test_should_read_amounts_as_decimals():
    assert loads_strict(b'{"price": 12.50, "items": [{"q": 1}]}') == {
        "price": Decimal("12.50"),
        "items": [{"q": 1}],
    }


@pytest.mark.parametrize(
    "body",
    [
        b'{"orderId": "a", "orderId": "b"}',
        b'{"items": [{"itemId": "x", "itemId": "y"}]}',
        b'{"a": {"b": 1, "b": 1}}',
    ],
)
def test_should_refuse_a_key_given_twice_at_any_depth(body):
    with pytest.raises(ValueError, match="appears more than once"):
        loads_strict(body)
    assert loads(body)  # the wire's reader takes the last one, as JSON allows
