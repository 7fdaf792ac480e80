"""Benchmark: card-number detection. False refusals on 20,000 ids of each common format, written
forms of a PAN refused, and the cost of `contains_pan` per call and per transaction.

    python benchmarks/pan.py [--ids N] [--calls N]
Last line: {"false_refusal_pct_<format>": ..., "forms_refused": F, "forms": N,
            "us_per_call_<kind>": ..., "us_per_transaction": T}
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import emit

from securebank.pan import contains_pan, is_card_number
from tests.contract.id_formats import refusal_rates
from tests.contract.test_pan import TEST_CARDS, written_forms

SAMPLES = {
    "short": "tok_a",
    "timestamp": "2026-03-02T12:00:00+00:00",
    "uuid": "550e8400-e29b-41d4-a716-446655440000",
    "txn_id": "txn-20260301-000123",
    "numeric_19": "1234567890123456789",
    "pan_spaced": "4111 1111 1111 1111",
}


def _us_per_call(text: str, calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            contains_pan(text)
        best = min(best, (time.perf_counter() - start) / calls)
    return round(best * 1e6, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    for name, rates in refusal_rates(contains_pan, is_card_number, n=args.ids).items():
        figures[f"false_refusal_pct_{name}"] = rates["false_refusal_pct"]
        figures[f"valid_card_numbers_{name}"] = rates["valid_card_numbers"]
    forms = [text for pan in TEST_CARDS.values() for text in written_forms(pan).values()]
    figures["forms"] = len(forms)
    figures["forms_refused"] = sum(contains_pan(text) for text in forms)
    for kind, text in SAMPLES.items():
        figures[f"us_per_call_{kind}"] = _us_per_call(text, args.calls)
    record = {
        "transaction_id": "txn-20260301-000123",
        "event_time": "2026-03-02T12:00:00+00:00",
        "card_id": "tok_9f8e7d6c5b4a",
        "customer_id": "cus_000123456",
        "merchant_id": "mer_004567",
        "mcc": "5411",
        "amount": "12.50",
        "currency": "USD",
        "merchant_country": "US",
        "channel": "pos",
        "device_id": "dev_550e8400e29b41d4",
        "status": "approved",
    }
    values = list(record.values())
    start = time.perf_counter()
    for _ in range(args.calls // 10):
        for value in values:
            contains_pan(value)
    figures["us_per_transaction"] = round(
        (time.perf_counter() - start) / (args.calls // 10) * 1e6, 2
    )
    emit(figures)


if __name__ == "__main__":
    main()
