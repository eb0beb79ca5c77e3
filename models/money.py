"""Money: Decimal everywhere, two places, ISO-4217 currencies.

Floats never touch an amount: JSON is parsed with Decimal numbers (see
:mod:`models.codec`), so ``19.99`` stays exactly ``19.99``.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
SHIPPING_RATE = Decimal("0.02")

#: Active ISO-4217 alphabetic codes (funds and precious metals left out).
ISO_4217_CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB
    BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF
    IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK
    LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND
    TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF
    YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 - a code table reads better as one block
)


def to_money(amount: Decimal) -> Decimal:
    """Quantize an amount to cents, rounding half up (the bookkeeping rule)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def has_cents_precision(amount: Decimal) -> bool:
    """True when ``amount`` has no more than two decimal places."""
    try:
        return amount.is_finite() and amount == amount.quantize(CENT)
    except InvalidOperation:  # too many digits to quantize: not a sane amount
        return False


def shipping_cost(total_amount: Decimal) -> Decimal:
    """Shipping is 2% of the order total, in cents, rounded half up."""
    return to_money(total_amount * SHIPPING_RATE)
