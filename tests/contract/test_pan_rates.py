"""False refusals of ordinary ids, measured on 20,000 ids of each common format (printed)."""

from __future__ import annotations

import json

from securebank.pan import contains_pan, is_card_number
from tests.contract.id_formats import refusal_rates


def test_ordinary_ids_are_refused_less_than_once_in_ten_thousand():
    rates = refusal_rates(contains_pan, is_card_number, n=20_000)
    print("\nfalse refusals per 20,000 ids:", json.dumps(rates, indent=1))
    for name, figures in rates.items():
        assert figures["false_refusal_pct"] < 0.01, (name, figures)
    # 19-digit numeric ids that are valid card numbers are the stated exception: refused, and
    # about what IIN coverage and Luhn predict (roughly half the prefixes, one in ten check digits).
    assert 0.02 < rates["numeric-19"]["valid_card_numbers"] / 20_000 < 0.05
    assert all(rates[name]["valid_card_numbers"] == 0 for name in rates if name != "numeric-19")
