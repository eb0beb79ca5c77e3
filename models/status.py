"""The order status state machine: status only moves forward."""

from enum import StrEnum


class OrderStatus(StrEnum):
    NEW = "new"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


#: The forward path; a move may skip steps but never go back.
_FORWARD = (
    OrderStatus.NEW,
    OrderStatus.PENDING,
    OrderStatus.CONFIRMED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
)
_CANCELLABLE = frozenset({OrderStatus.NEW, OrderStatus.PENDING, OrderStatus.CONFIRMED})
FINAL_STATUSES = frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED})


class IllegalTransition(ValueError):
    """A status move the rules forbid (backwards, or out of a final status)."""


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is allowed.

    Setting the current status again is allowed here; the caller treats it as
    "nothing changed" and publishes nothing.
    """
    if current == target:
        return
    if current in FINAL_STATUSES:
        raise IllegalTransition(f"order is {current.value}, a final status")
    if target == OrderStatus.CANCELLED:
        if current in _CANCELLABLE:
            return
        raise IllegalTransition(f"an order that is {current.value} cannot be cancelled")
    if _FORWARD.index(target) < _FORWARD.index(current):
        raise IllegalTransition(f"status cannot move back from {current.value} to {target.value}")
