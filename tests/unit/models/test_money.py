"""Money: shipping at 2% rounded half up to cents, cent precision, currencies."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.money import ISO_4217_CURRENCIES, has_cents_precision, shipping_cost, to_money


@pytest.mark.parametrize(
    ("total", "shipping"),
    [
        ("0.25", "0.01"),  # 0.005: the half rounds up, not to even
        ("0.24", "0.00"),  # 0.0048
        ("0.75", "0.02"),  # 0.015: half up again (banker's rounding would also say 0.02)
        ("1.25", "0.03"),  # 0.025: half up gives 0.03, banker's would give 0.02
        ("1586.71", "31.73"),  # 31.7342
        ("28.99", "0.58"),  # 0.5798
        ("100", "2.00"),
        ("0.01", "0.00"),
    ],
)
def test_shipping_is_two_percent_rounded_half_up_to_cents(total: str, shipping: str):
    cost = shipping_cost(Decimal(total))

    assert cost == Decimal(shipping)
    assert str(cost) == shipping  # exactly two places, no more, no less


def test_to_money_rounds_half_up_away_from_zero():
    assert to_money(Decimal("2.345")) == Decimal("2.35")
    assert to_money(Decimal("-2.345")) == Decimal("-2.35")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("12", True),
        ("12.5", True),
        ("12.50", True),
        ("12.500", True),  # trailing zeros add no precision
        ("12.505", False),
        ("0.001", False),
        ("NaN", False),
        ("Infinity", False),
    ],
)
def test_has_cents_precision(amount: str, expected: bool):
    assert has_cents_precision(Decimal(amount)) is expected


def test_has_cents_precision_refuses_amounts_beyond_the_decimal_context_precision():
    # Given a whole amount with more digits than the default context's 28
    # (a client may send one; the wire decoder asks this before anything else)
    huge = Decimal("1E+30")

    # Then it is answered (not raised as decimal.InvalidOperation): no sane amount
    assert has_cents_precision(huge) is False


@pytest.mark.parametrize("code", ["USD", "EUR", "ILS", "GBP", "JPY", "CHF"])
def test_common_currencies_are_known(code: str):
    assert code in ISO_4217_CURRENCIES


@pytest.mark.parametrize("code", ["usd", "US", "USDD", "XXX", "XAU", "", "ABC"])
def test_lowercase_malformed_funds_and_metals_are_not_currencies(code: str):
    assert code not in ISO_4217_CURRENCIES


def test_every_currency_code_is_three_uppercase_letters():
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in ISO_4217_CURRENCIES)
    assert len(ISO_4217_CURRENCIES) > 150


# Realistic order totals: 0.00 .. 100,000,000.00 in cents.
cents = st.integers(min_value=0, max_value=10_000_000_000)
amounts = st.decimals(
    min_value=0, max_value=Decimal("100000000"), places=4, allow_nan=False, allow_infinity=False
)


@given(amount=amounts)
def test_shipping_cost_matches_its_definition_and_is_never_negative(amount: Decimal):
    cost = shipping_cost(amount)

    assert cost == (amount * 2 / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert cost >= 0
    assert has_cents_precision(cost)


@given(total_cents=cents)
def test_shipping_cost_of_a_cents_amount_equals_integer_arithmetic(total_cents: int):
    # 2% of n cents is n/50 cents; half up: add 25 before the floor division.
    expected_cents = (total_cents + 25) // 50

    cost = shipping_cost(Decimal(total_cents) / 100)

    assert cost == Decimal(expected_cents) / 100
