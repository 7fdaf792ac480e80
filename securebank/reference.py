"""Reference data shared by the contract, the simulator and the features.

ISO 3166-1 and ISO 4217 code lists come from pycountry. ISO 4217 minor-unit exponents and the
reference FX rates are ours: the exponent table lists only the currencies whose exponent is not 2,
and the rate table is the set of settlement currencies the platform accepts. The rates are fixed
reference values (USD per unit) so that a feature computed today and at training time agree; they
are part of the feature-set version.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from types import MappingProxyType

import pycountry

_EXPONENT_NOT_TWO = MappingProxyType(
    {
        **dict.fromkeys(
            [
                "BIF",
                "CLP",
                "DJF",
                "GNF",
                "ISK",
                "JPY",
                "KMF",
                "KRW",
                "PYG",
                "RWF",
                "UGX",
                "UYI",
                "VND",
                "VUV",
                "XAF",
                "XOF",
                "XPF",
            ],
            0,
        ),
        **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
        **dict.fromkeys(["CLF", "UYW"], 4),
    }
)

#: USD per one unit of each accepted settlement currency (reference rates, not market rates).
USD_PER_UNIT: MappingProxyType[str, float] = MappingProxyType(
    {
        "USD": 1.0,
        "EUR": 1.08,
        "GBP": 1.27,
        "JPY": 0.0067,
        "CHF": 1.12,
        "CAD": 0.74,
        "AUD": 0.66,
        "NZD": 0.61,
        "SEK": 0.095,
        "NOK": 0.094,
        "DKK": 0.145,
        "PLN": 0.25,
        "CZK": 0.044,
        "HUF": 0.0028,
        "MXN": 0.058,
        "BRL": 0.2,
        "CLP": 0.0011,
        "INR": 0.012,
        "CNY": 0.14,
        "HKD": 0.128,
        "SGD": 0.74,
        "KRW": 0.00075,
        "THB": 0.028,
        "ZAR": 0.054,
        "AED": 0.272,
        "TRY": 0.031,
        "NGN": 0.00065,
        "KWD": 3.25,
        "BHD": 2.65,
    }
)


def currency_exponent(code: str) -> int:
    """ISO 4217 minor-unit exponent (USD 2, JPY 0, KWD 3)."""
    return _EXPONENT_NOT_TWO.get(code, 2)


@cache
def is_iso_currency(code: str) -> bool:
    return len(code) == 3 and pycountry.currencies.get(alpha_3=code) is not None


@cache
def is_iso_country(code: str) -> bool:
    return len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None


def max_amount_usd() -> Decimal:
    """Largest single transaction amount (USD equivalent) the contract accepts."""
    return Decimal(5_000_000)
