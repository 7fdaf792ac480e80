"""Generate a realistic, labelled transaction history, deterministic for a seed.

Layout written under the output folder (the same one `data import` writes):
    transactions/date=YYYY-MM-DD/part-0.parquet   contract columns (`TRANSACTION_SCHEMA`)
    labels/labels.parquet                         fraud labels (`LABEL_SCHEMA`)
    manifest.json                                 parameters and counts
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from securebank.contract import LABEL_SCHEMA, TRANSACTION_SCHEMA
from securebank.data.dataset import write_dataset
from securebank.data.simulator.events import SCENARIOS, STATUS_NAMES, Events
from securebank.data.simulator.fraud import UNLABELLED_SHARE, FraudFactory, FraudPlan
from securebank.data.simulator.legit import DAY_MS, HOUR_MS, generate_legit
from securebank.data.simulator.population import (
    CAT_CHANNEL,
    CAT_MCC,
    make_customers,
    make_merchants,
)
from securebank.reference import USD_PER_UNIT, currency_exponent

_MAX_AMOUNT_USD = 2_000_000.0


@dataclass(frozen=True)
class SimulationConfig:
    transactions: int
    seed: int = 7
    start: date = date(2026, 7, 1)
    days: int = 90
    fraud_rate: float = 0.007

    def validate(self) -> None:
        if self.transactions < 1_000:
            raise ValueError("transactions must be at least 1000")
        if not 14 <= self.days <= 730:
            raise ValueError("days must be between 14 and 730")
        if not 0.0 < self.fraud_rate <= 0.2:
            raise ValueError("fraud_rate must be in (0, 0.2]")
        end = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp()
        if end + self.days * 86_400 > datetime.now(UTC).timestamp():
            raise ValueError("the simulated period must end before now (start + days)")


@dataclass(frozen=True)
class SimulationSummary:
    transactions: int
    #: Every fraud (ground truth); `labelled` of them have a label in the labels table.
    frauds: int
    labelled: int
    fraud_rate: float
    customers: int
    cards: int
    merchants: int
    first_day: str
    last_day: str
    by_scenario: dict[str, int]
    declined: int
    failed: int
    international: int


def simulate(config: SimulationConfig) -> tuple[pa.Table, pa.Table, SimulationSummary]:
    """The transactions and labels tables, and a summary of what was generated."""
    transactions, labels, _, summary = simulate_with_truth(config)
    return transactions, labels, summary


def simulate_with_truth(
    config: SimulationConfig,
) -> tuple[pa.Table, pa.Table, pa.Table, SimulationSummary]:
    """Also the ground truth: every fraud, labelled or not (`TRUTH_SCHEMA`)."""
    config.validate()
    rng = np.random.default_rng(config.seed)
    start_ms = int(datetime(*config.start.timetuple()[:3], tzinfo=UTC).timestamp() * 1000)
    n_fraud = max(6, round(config.transactions * config.fraud_rate))
    plan = FraudPlan.draw(rng, n_fraud)
    n_fraud = sum(int(s.sum()) for s in plan.sizes.values())
    customers = make_customers(rng, max(50, config.transactions // 150), config.days)
    merchants = make_merchants(rng, max(300, config.transactions // 250))
    n_legit = config.transactions - (n_fraud - plan.converted) - plan.anchors
    legit = generate_legit(rng, n_legit, customers, merchants, start_ms, config.days)
    first_fraud_device = int(customers.device_start[-1] + customers.n_devices[-1])
    factory = FraudFactory(rng, customers, merchants, start_ms, config.days, first_fraud_device)
    factory.compromised_terminal(plan.converted, legit)
    travel, anchors = factory.impossible_travel(plan.sizes["impossible_travel"])
    events = Events.concat(
        [
            legit,
            anchors,
            factory.card_testing(plan.sizes["card_testing"]),
            factory.velocity(plan.sizes["velocity"]),
            factory.account_takeover(plan.sizes["account_takeover"]),
            travel,
            factory.compromised_merchant(plan.sizes["compromised_merchant"], legit),
            factory.unusual_amount(plan.sizes["unusual_amount"]),
        ]
    )
    events = events.take(np.lexsort((np.arange(len(events)), events.time_ms)))
    transactions = _transaction_table(events, merchants, config.seed)
    labels = _label_table(rng, events, transactions["transaction_id"])
    truth = _truth_table(events, transactions["transaction_id"], labels)
    summary = _summary(events, transactions, customers, merchants, config, len(labels))
    return transactions, labels, truth, summary


def _decimal_array(units: np.ndarray, exponent: np.ndarray) -> pa.Array:
    """decimal128(18, 4) from integer minor units with per-row currency exponents."""
    scaled = (units * 10 ** (4 - exponent)).astype(np.int64)
    words = np.empty((len(scaled), 2), dtype=np.int64)
    words[:, 0] = scaled
    words[:, 1] = scaled >> 63
    return pa.Array.from_buffers(
        pa.decimal128(18, 4), len(scaled), [None, pa.py_buffer(words.tobytes())]
    )


def _transaction_table(events: Events, merchants, seed: int) -> pa.Table:
    n = len(events)
    currency = merchants.currency[events.merchant]
    codes, inverse = np.unique(currency, return_inverse=True)
    exponent = np.array([currency_exponent(c) for c in codes])[inverse]
    usd_per_unit = np.array([USD_PER_UNIT[c] for c in codes])[inverse]
    usd = np.minimum(events.amount_usd, _MAX_AMOUNT_USD)
    units = np.maximum(1, np.rint(usd / usd_per_unit * 10.0**exponent)).astype(np.int64)
    category = merchants.category[events.merchant]
    device = events.device
    return pa.Table.from_arrays(
        [
            pa.array([f"tx{seed}x{i:09d}" for i in range(n)]),
            pa.array(events.time_ms, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            pa.array([f"tok_{c:07d}" for c in events.card]),
            pa.array([f"cus_{c:06d}" for c in events.customer]),
            pa.array([f"mer_{m:06d}" for m in events.merchant]),
            pa.array(CAT_MCC[category]),
            _decimal_array(units, exponent),
            pa.array(currency),
            pa.array(merchants.country[events.merchant]),
            pa.array(merchants.lat[events.merchant], from_pandas=True),
            pa.array(merchants.lon[events.merchant], from_pandas=True),
            pa.array(CAT_CHANNEL[category]),
            pa.array([f"dev_{d:07d}" if d >= 0 else None for d in device.tolist()]),
            pa.array(STATUS_NAMES[events.status]),
        ],
        schema=TRANSACTION_SCHEMA,
    )


def _label_table(rng: np.random.Generator, events: Events, tids: pa.ChunkedArray) -> pa.Table:
    fraud = np.flatnonzero(events.episode >= 0)
    episode = events.episode[fraud]
    last = np.zeros(int(episode.max(initial=-1)) + 1, dtype=np.int64)
    np.maximum.at(last, episode, events.time_ms[fraud])
    delay_days = rng.lognormal(np.log(6.0), 0.9, size=len(last))
    delay = np.clip(delay_days * DAY_MS, 2 * HOUR_MS, 75 * DAY_MS).astype(np.int64)
    reported = last[episode] + delay[episode]
    labelled = (rng.random(len(last)) >= UNLABELLED_SHARE)[episode]
    fraud, reported = fraud[labelled], reported[labelled]
    return pa.Table.from_arrays(
        [
            tids.take(pa.array(fraud)),
            pa.array(np.ones(len(fraud), dtype=bool)),
            pa.array(reported, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            pa.array(np.array(SCENARIOS)[events.scenario[fraud]]),
        ],
        schema=LABEL_SCHEMA,
    )


TRUTH_SCHEMA = pa.schema(
    [
        pa.field("transaction_id", pa.string(), nullable=False),
        pa.field("fraud_scenario", pa.string(), nullable=False),
        pa.field("labelled", pa.bool_(), nullable=False),
    ]
)
TRUTH_FILE = Path("truth") / "truth.parquet"


def _truth_table(events: Events, tids: pa.ChunkedArray, labels: pa.Table) -> pa.Table:
    fraud = np.flatnonzero(events.episode >= 0)
    ids = tids.take(pa.array(fraud))
    labelled = pc.is_in(ids, value_set=labels["transaction_id"].combine_chunks())
    return pa.Table.from_arrays(
        [ids, pa.array(np.array(SCENARIOS)[events.scenario[fraud]]), labelled],
        schema=TRUTH_SCHEMA,
    )


def _summary(events, transactions, customers, merchants, config, labelled) -> SimulationSummary:
    frauds = int((events.episode >= 0).sum())
    days = transactions["event_time"]
    by_scenario = {
        name: int((events.scenario == code).sum()) for code, name in enumerate(SCENARIOS) if code
    }
    return SimulationSummary(
        transactions=len(events),
        frauds=frauds,
        labelled=labelled,
        fraud_rate=frauds / len(events),
        customers=len(customers),
        cards=int(customers.n_cards.sum()),
        merchants=len(merchants),
        first_day=str(days[0].as_py().date()),
        last_day=str(days[-1].as_py().date()),
        by_scenario=by_scenario,
        declined=int((events.status == 1).sum()),
        failed=int((events.status == 2).sum()),
        international=int((merchants.country[events.merchant] != "US").sum()),
    )


def generate(
    config: SimulationConfig, out: Path, on_day: Callable[[int, int], None] | None = None
) -> SimulationSummary:
    """Write the dataset under `out`, and the ground truth to `out/TRUTH_FILE`."""
    transactions, labels, truth, summary = simulate_with_truth(config)
    manifest = {"generator": "securebank.simulator", "config": asdict(config), **asdict(summary)}
    write_dataset(out, transactions, labels, manifest, on_day)
    (out / TRUTH_FILE).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(truth, out / TRUTH_FILE)
    return summary
