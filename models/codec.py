"""The JSON value codec of every order topic and table.

simplejson with ``use_decimal``: amounts are parsed as Decimal (no float
rounding on the way in) and written as JSON numbers with their two decimals
(``12.50``, not ``12.5`` or ``"12.50"``); a record is written as its wire
data (``for_json``).
"""

from typing import Any

import faust
import simplejson

CODEC_NAME = "order-json"


def dumps(value: Any) -> bytes:
    return simplejson.dumps(value, use_decimal=True, for_json=True, separators=(",", ":")).encode()


def loads(payload: bytes | str) -> Any:
    return simplejson.loads(payload, use_decimal=True)


class OrderJsonCodec(faust.Codec):
    def _dumps(self, value: Any) -> bytes:
        return dumps(value)

    def _loads(self, payload: bytes) -> Any:
        return loads(payload)


def register() -> None:
    """Make the codec known to Faust by name (idempotent)."""
    faust.serializers.codecs.register(CODEC_NAME, OrderJsonCodec())
