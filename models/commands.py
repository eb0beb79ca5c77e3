"""Commands to the cart agent and its replies.

A command is complete when it is sent (the random items of a create are
drawn by the web view), so handling it twice gives the same result.
"""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from models.order import Order
from models.rules import (
    BY_VALUE,
    MAX_VERSION,
    IdempotencyKey,
    Identifier,
    Status,
    Timestamp,
    Version,
)
from models.wire import WireRecord


class CommandType(StrEnum):
    CREATE_ORDER = "CreateOrder"
    UPDATE_ORDER_STATUS = "UpdateOrderStatus"


class Outcome(StrEnum):
    """How the cart agent decided a command."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ALREADY_EXISTS = "already_exists"
    NOT_FOUND = "not_found"
    ILLEGAL_TRANSITION = "illegal_transition"
    #: The owner of the order's partition could not read the command record.
    UNREADABLE = "unreadable"
    #: The worker could not confirm it still owns the order's partition.
    OWNERSHIP_UNCONFIRMED = "ownership_unconfirmed"
    #: The order is at a version other than the ones the command was conditional on.
    VERSION_MISMATCH = "version_mismatch"
    #: The command's idempotency key was used for another request to the same order.
    KEY_REUSED = "key_reused"


#: Outcomes that decided nothing about the order: not kept under the idempotency key
#: (the same request, sent again, is decided again).
UNDECIDED = frozenset({Outcome.UNREADABLE, Outcome.OWNERSHIP_UNCONFIRMED, Outcome.KEY_REUSED})


class OrderCommand(WireRecord):
    """``CreateOrder`` carries the new ``order``; ``UpdateOrderStatus`` a ``status``."""

    commandId: str
    commandType: Annotated[CommandType, *BY_VALUE]
    orderId: Identifier
    issuedAt: Timestamp
    order: Order | None = None
    status: Status | None = None
    #: Applies only while the order is at one of these versions (an If-Match).
    ifMatch: list[Version] | None = None
    #: The client's Idempotency-Key; without one the commandId serves as the key.
    idempotencyKey: IdempotencyKey | None = None
    #: What the request said (a hash): the same key with another request is refused.
    requestHash: str | None = None

    @property
    def key(self) -> str:
        """The idempotency key the command's answer is kept under."""
        return self.idempotencyKey or self.commandId

    @model_validator(mode="after")
    def _what_the_type_needs(self) -> Self:
        if self.commandType is CommandType.CREATE_ORDER:
            if self.order is None:
                raise ValueError("a CreateOrder command carries the order")
            if self.order.orderId != self.orderId:
                raise ValueError("order.orderId differs from the command's orderId")
        elif self.status is None:
            raise ValueError("an UpdateOrderStatus command carries the status")
        return self


class CommandReply(WireRecord):
    """The agent's answer to one command, correlated by ``commandId``."""

    commandId: str
    outcome: Annotated[Outcome, *BY_VALUE]
    detail: str
    order: Order | None = None
    #: The order's version after the command; 0: there is no order.
    version: Annotated[int, Field(ge=0, le=MAX_VERSION)] = 0
    #: The answer given before to the same idempotency key and request.
    replayed: bool = False
