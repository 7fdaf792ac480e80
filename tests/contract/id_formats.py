"""Generators of ordinary identifiers in the formats banks use, for false-refusal measurements.

Seeded, so every run measures the same ids (tests/contract/test_pan_rates.py, benchmarks/pan.py).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_DAY0 = datetime(2015, 1, 1, tzinfo=UTC)
_EPOCH_MS_LOW = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp() * 1000)
_EPOCH_MS_HIGH = int(datetime(2035, 1, 1, tzinfo=UTC).timestamp() * 1000)


def uuid4_ids(rng: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]


def prefix_date_seq_ids(rng: random.Random, n: int) -> list[str]:
    """`txn-YYYYMMDD-NNNNNN`."""
    return [
        f"txn-{_DAY0 + timedelta(days=rng.randrange(7300)):%Y%m%d}-{rng.randrange(10**6):06d}"
        for _ in range(n)
    ]


def epoch_ms_seq_ids(rng: random.Random, n: int) -> list[str]:
    """`<epoch ms>-NNN`: a millisecond timestamp and a 3-digit sequence within it."""
    return [
        f"{rng.randrange(_EPOCH_MS_LOW, _EPOCH_MS_HIGH)}-{rng.randrange(1000):03d}"
        for _ in range(n)
    ]


def numeric_19_ids(rng: random.Random, n: int) -> list[str]:
    """19-digit numeric account ids (some are valid card numbers by chance: the exception)."""
    return [str(rng.randrange(10**18, 10**19)) for _ in range(n)]


FORMATS: dict[str, Callable[[random.Random, int], list[str]]] = {
    "uuid4": uuid4_ids,
    "txn-YYYYMMDD-NNNNNN": prefix_date_seq_ids,
    "epochms-NNN": epoch_ms_seq_ids,
    "numeric-19": numeric_19_ids,
}


def refusal_rates(contains_pan, is_card_number, n: int = 20_000, seed: int = 13) -> dict:
    """Per format: ids generated, refused, refused although no whole id is a card number."""
    out = {}
    for name, make in FORMATS.items():
        ids = make(random.Random(f"{seed}-{name}"), n)
        refused = [i for i in ids if contains_pan(i)]
        card_numbers = [i for i in refused if i.isdigit() and is_card_number(i)]
        false = len(refused) - len(card_numbers)
        out[name] = {
            "ids": n,
            "refused": len(refused),
            "valid_card_numbers": len(card_numbers),
            "false_refusals": false,
            "false_refusal_pct": round(100 * false / n, 4),
        }
    return out
