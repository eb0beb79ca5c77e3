"""The order service's rule: what an order event does to the order's row.

Each event carries the full order after the change, so applying it is
replacing the row with the order and its shipping cost, if the event is
newer than the row.  An older or equal version is a duplicate (a producer
retry, or a command handled again after a crash) and changes nothing.  A
version further ahead than the next one means events were lost upstream:
the snapshot is still complete, so it is applied, and the gap is reported.
"""

from dataclasses import dataclass
from enum import StrEnum

from models.events import OrderEvent
from models.money import shipping_cost
from models.state import ShippedOrder


class Outcome(StrEnum):
    #: The next version: the row is replaced.
    APPLIED = "applied"
    #: Versions are missing before it: the row is replaced, and the gap reported.
    APPLIED_AFTER_GAP = "applied_after_gap"
    #: Not newer than the row: nothing changes.
    SKIPPED_AS_DUPLICATE = "skipped_as_duplicate"


@dataclass(frozen=True)
class Shipped:
    outcome: Outcome
    #: The order's new row; None when nothing changes.
    row: ShippedOrder | None = None


def apply(event: OrderEvent, held_version: int) -> Shipped:
    """What ``event`` does to its order's row, which holds ``held_version`` (0: none).

    A pure function, like the cart's ``decide``.
    """
    if event.version <= held_version:
        return Shipped(Outcome.SKIPPED_AS_DUPLICATE)
    order = event.order
    row = ShippedOrder(
        order=order, version=event.version, shippingCost=shipping_cost(order.totalAmount)
    )
    gap = event.version != held_version + 1
    return Shipped(Outcome.APPLIED_AFTER_GAP if gap else Outcome.APPLIED, row)
