"""The order status state machine against the rules of DESIGN.md."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.status import FINAL_STATUSES, IllegalTransition, OrderStatus, check_transition

# Written out by hand from the design, not derived from the code under test:
# forward only (skipping allowed), cancelled from new/pending/confirmed only,
# delivered and cancelled final, the same status always allowed.
ALLOWED_TARGETS: dict[str, set[str]] = {
    "new": {"new", "pending", "confirmed", "shipped", "delivered", "cancelled"},
    "pending": {"pending", "confirmed", "shipped", "delivered", "cancelled"},
    "confirmed": {"confirmed", "shipped", "delivered", "cancelled"},
    "shipped": {"shipped", "delivered"},
    "delivered": {"delivered"},
    "cancelled": {"cancelled"},
}
ALL_PAIRS = [
    (current, target)
    for current in ALLOWED_TARGETS
    for target in ("new", "pending", "confirmed", "shipped", "delivered", "cancelled")
]
FORWARD_RANK = {"new": 0, "pending": 1, "confirmed": 2, "shipped": 3, "delivered": 4}


def is_allowed(current: OrderStatus, target: OrderStatus) -> bool:
    try:
        check_transition(current, target)
    except IllegalTransition:
        return False
    return True


def test_the_expected_table_covers_every_status_of_the_enum():
    assert set(ALLOWED_TARGETS) == {status.value for status in OrderStatus}
    assert len(ALL_PAIRS) == 36


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_should_allow_exactly_the_moves_of_the_design(current: str, target: str):
    expected = target in ALLOWED_TARGETS[current]

    allowed = is_allowed(OrderStatus(current), OrderStatus(target))

    assert allowed is expected, f"{current} → {target}"


@pytest.mark.parametrize(
    ("current", "target", "reason"),
    [
        ("shipped", "pending", "back"),
        ("confirmed", "new", "back"),
        ("shipped", "cancelled", "cannot be cancelled"),
        ("delivered", "cancelled", "final"),
        ("cancelled", "new", "final"),
    ],
)
def test_should_say_why_a_move_is_refused(current: str, target: str, reason: str):
    with pytest.raises(IllegalTransition, match=reason):
        check_transition(OrderStatus(current), OrderStatus(target))


def test_final_statuses_are_delivered_and_cancelled():
    assert {OrderStatus.DELIVERED, OrderStatus.CANCELLED} == FINAL_STATUSES


statuses = st.sampled_from(list(OrderStatus))


@given(targets=st.lists(statuses, max_size=30))
def test_accepted_moves_never_go_back_and_never_leave_a_final_status(targets):
    # Given a new order and any sequence of requested moves
    current = OrderStatus.NEW
    for target in targets:
        # When only the accepted ones are applied
        if not is_allowed(current, target):
            continue
        # Then the order never goes back on the forward path, and a final
        # status (delivered, cancelled) is never left
        if current in FINAL_STATUSES:
            assert target == current
        elif target is not OrderStatus.CANCELLED:
            assert FORWARD_RANK[target.value] >= FORWARD_RANK[current.value]
        else:
            assert FORWARD_RANK[current.value] <= FORWARD_RANK["confirmed"]
        current = target


@given(current=statuses)
def test_setting_the_current_status_again_is_always_allowed(current):
    assert is_allowed(current, current)
