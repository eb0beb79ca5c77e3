"""Idempotency keys: the answer each decided command got, kept under its key.

A command is kept under the client's ``Idempotency-Key``, or, without one,
under its own commandId (which a 504 names, so the client can send the same
request again with it as the key).  Keys are per order: the writer of the
order's partition keeps them beside the order's row, and the same key sent
with another request for the same order is refused (422).

Where a kept answer lives, so that it survives a restart and a partition
moving to another worker:

- a command that published an event: in that event's record, as the header
  :data:`IDEMPOTENCY_HEADER` (key and request hash), written with the event
  in one record, so an applied change is never without its key;
- a command with a client's key that published nothing (409, 404, 412, an
  unchanged status): a record of its own on ``order-idempotency-keys``
  (compacted; kept a week), acknowledged before the answer is given.

A store restores both with the order rows (:mod:`agents.cart_orders`).  An
answer older than the keys' lifetime is no longer replayed.
"""

import time
from dataclasses import dataclass

from pydantic import ValidationError

from models.codec import dumps, loads
from models.commands import CommandReply, CommandType, OrderCommand, Outcome
from models.events import EventType, OrderEvent
from models.wire import InvalidRecord

#: The header of an event record naming the key and request it answered.
IDEMPOTENCY_HEADER = "idempotency"
#: Store keys of kept answers start with this byte (orderIds never do).
KEPT_ANSWER_PREFIX = b"\x01"


@dataclass(frozen=True)
class KeptAnswer:
    #: What the request asked (a hash; None from a writer that did not hash).
    request_hash: str | None
    reply: CommandReply
    #: When it was decided (seconds since the epoch).
    decided_at: float

    def encode(self) -> bytes:
        return dumps(
            {"requestHash": self.request_hash, "at": self.decided_at, "reply": self.reply.to_wire()}
        )

    @classmethod
    def decode(cls, data: bytes) -> "KeptAnswer":
        """The kept answer ``data`` holds; :class:`InvalidRecord` if it holds none (bytes
        some other writer put on the topic)."""
        try:
            kept = loads(data)
            request_hash = kept["requestHash"]
            if request_hash is not None and not isinstance(request_hash, str):
                raise TypeError("requestHash is no string")
            return cls(request_hash, CommandReply.from_wire(kept["reply"]), float(kept["at"]))
        except (ValueError, KeyError, TypeError, ValidationError, InvalidRecord) as exc:
            raise InvalidRecord(f"not a kept answer: {exc!r:.200}") from None


def kept_answer_key(order_id: str, key: str) -> bytes:
    """Where an order's answer to ``key`` is kept (in the store and on the topic)."""
    return KEPT_ANSWER_PREFIX + order_id.encode() + b"\x00" + key.encode()


def is_kept_answer_key(key: bytes | None) -> bool:
    """Whether a record's key is where a kept answer lives (and so no order's row)."""
    return key is not None and key.startswith(KEPT_ANSWER_PREFIX) and b"\x00" in key


def event_header(command: OrderCommand) -> tuple[str, bytes]:
    """The header of the event ``command`` publishes: its key and request."""
    return IDEMPOTENCY_HEADER, dumps({"key": command.key, "requestHash": command.requestHash})


def kept_in_event(event: OrderEvent, header: bytes, decided_at: float) -> tuple[bytes, KeptAnswer]:
    """The answer an event's record keeps (restore): what its command was answered.
    :class:`InvalidRecord` for a header that names no key."""
    try:
        named = loads(header)
        if not isinstance(named["key"], str) or not isinstance(named["requestHash"], str | None):
            raise TypeError("key or requestHash is no string")
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRecord(f"not an idempotency header: {exc!r:.200}") from None
    created = event.eventType is EventType.ORDER_CREATED
    outcome = Outcome.CREATED if created else Outcome.UPDATED
    reply = CommandReply(
        commandId=named["key"],
        outcome=outcome,
        detail=f"order {event.orderId} {outcome.value}",
        order=event.order,
        version=event.version,
    )
    return kept_answer_key(event.orderId, named["key"]), KeptAnswer(
        named["requestHash"], reply, decided_at
    )


def answer_again(command: OrderCommand, kept: KeptAnswer) -> CommandReply:
    """The answer to ``command`` sent again under a key already answered."""
    if kept.request_hash != command.requestHash:
        verb = "create" if command.commandType is CommandType.CREATE_ORDER else "update"
        return CommandReply.model_construct(
            commandId=command.commandId,
            outcome=Outcome.KEY_REUSED,
            detail=f"Idempotency-Key {command.key!r} was used for another request to order "
            f"{command.orderId}; this {verb} was not done (use a new key for a new request)",
            order=None,
            version=0,
            replayed=False,
        )
    return kept.reply.model_copy(update={"commandId": command.commandId, "replayed": True})


def still_kept(kept: KeptAnswer | None, lifetime: float) -> KeptAnswer | None:
    """``kept`` while it is younger than ``lifetime`` seconds."""
    if kept is None or time.time() - kept.decided_at > lifetime:
        return None
    return kept
