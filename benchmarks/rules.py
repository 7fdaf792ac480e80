"""Rule evaluation cost per transaction: a 50-rule set over synthetic feature vectors.

Measures `rule_row` (building the row a rule reads) and `CompiledRuleSet.evaluate` separately,
per transaction, with p50/p99 over batches of 100. The rule set mixes what fraud teams write:
velocity thresholds, amount bands, list look-ups, category sets, missing-value tests.
Goal (issue #15): under 20 µs per transaction for 50 rules.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit

from securebank.features.definitions import FEATURE_NAMES
from securebank.rules.ruleset import compile_rule_set, rule_row

TEMPLATES = (
    "card_count_1h > {a} and amount_usd < {b}",
    "card_sum_24h > {c} and is_new_merchant == 1",
    "amount_zscore_30d > {z} and is_night == 1",
    "card_id in list blocked_cards",
    "merchant_id in list blocked_merchants or device_id in list blocked_devices",
    'mcc in ("7995", "5967", "4829") and amount_usd > {c}',
    'kmh_from_prev_location > 900 and not (channel == "ecommerce")',
    "card_declines_1h >= {d} or card_declines_24h > {e}",
    "is_new_device == 1 and device_id is not missing and amount_usd >= {c}",
    "merchant_fraud_rate_28d > 0.{d} and is_international == 1",
)


def rule_set_text(count: int, rng: random.Random) -> str:
    lines = ["rules:"]
    for i in range(count):
        when = TEMPLATES[i % len(TEMPLATES)].format(
            a=rng.randint(5, 20),
            b=rng.choice([1, 2, 5]),
            c=rng.randint(200, 5000),
            z=rng.randint(3, 8),
            d=rng.randint(2, 6),
            e=rng.randint(6, 12),
        )
        action = ("review", "decline", "allow")[i % 7 % 3]
        lines += [
            f"  - name: rule-{i:03d}",
            f"    when: '{when}'",
            f"    action: {action}",
            f"    reason: reason {i}",
        ]
    return "\n".join(lines) + "\n"


def transactions(count: int, rng: random.Random) -> list[tuple[list[float], dict]]:
    out = []
    for i in range(count):
        features = [rng.random() * rng.choice([1, 10, 1000]) for _ in FEATURE_NAMES]
        txn = {
            "card_id": f"card-{rng.randint(0, 50_000)}",
            "merchant_id": f"m-{rng.randint(0, 5_000)}",
            "device_id": f"d-{i}" if rng.random() < 0.6 else None,
            "mcc": rng.choice(["5411", "7995", "5812", None]),
            "merchant_country": "US",
            "currency": "USD",
            "channel": rng.choice(["pos", "ecommerce", None]),
            "status": "approved",
            "amount": f"{rng.random() * 500:.2f}",
            "customer_id": None,
        }
        out.append((features, txn))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--transactions", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(15)
    started = time.perf_counter()
    rules = compile_rule_set(rule_set_text(args.rules, rng), "bench")
    compile_ms = (time.perf_counter() - started) * 1000
    lists = {
        "blocked_cards": frozenset(f"card-{i}" for i in range(0, 50_000, 97)),
        "blocked_merchants": frozenset(f"m-{i}" for i in range(0, 5_000, 101)),
        "blocked_devices": frozenset(f"d-{i}" for i in range(0, 100_000, 89)),
    }
    data = transactions(args.transactions, rng)
    row_times, eval_times = [], []
    hits = 0
    batch = 100
    for start in range(0, len(data), batch):
        chunk = data[start : start + batch]
        t0 = time.perf_counter()
        built = [rule_row(f, t) for f, t in chunk]
        t1 = time.perf_counter()
        for row in built:
            hits += len(rules.evaluate(row, lists))
        t2 = time.perf_counter()
        row_times.append((t1 - t0) / len(chunk) * 1e6)
        eval_times.append((t2 - t1) / len(chunk) * 1e6)
    row_times.sort()
    eval_times.sort()

    def pct(values: list[float], q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 2)

    emit(
        {
            "rules": args.rules,
            "transactions": len(data),
            "compile_ms": round(compile_ms, 2),
            "row_us_p50": pct(row_times, 0.5),
            "eval_us_p50": pct(eval_times, 0.5),
            "eval_us_p99": pct(eval_times, 0.99),
            "total_us_p50": round(pct(row_times, 0.5) + pct(eval_times, 0.5), 2),
            "hits_per_txn": round(hits / len(data), 3),
        }
    )


if __name__ == "__main__":
    main()
