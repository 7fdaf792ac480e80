"""Replay a history through the online path, in stream order.

This is how the online feature store is bootstrapped from history before a stream goes live (the
states it returns are what the scorer would have built), and the reference that the parity tests
and the online benchmark compare with `offline.build_features`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from securebank.features.definitions import FEATURE_NAMES
from securebank.features.online import (
    CardState,
    FeatureInput,
    MerchantState,
    compute_and_apply,
    epoch_ms,
)
from securebank.features.state_item import (
    decode_card,
    decode_merchant,
    encode_card,
    encode_merchant,
)


@dataclass
class ReplayResult:
    transaction_ids: list[str]
    vectors: np.ndarray
    cards: dict[str, CardState] = field(default_factory=dict)
    merchants: dict[str, MerchantState] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.vectors, columns=list(FEATURE_NAMES))
        frame.insert(0, "transaction_id", self.transaction_ids)
        return frame


def _records(table: pd.DataFrame | pa.Table) -> list[dict]:
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    return table.to_pylist()


def replay(
    transactions: pd.DataFrame | pa.Table,
    labels: pd.DataFrame | pa.Table | None = None,
    *,
    on_step: Callable[[int], None] | None = None,
    persist_every: int | None = None,
) -> ReplayResult:
    """Features of every transaction computed online, in (event_time, transaction_id) order.

    Fraud labels are applied to the merchant state of their transaction as soon as they are
    reported, interleaved with the transactions by time. With `persist_every=N`, the states touched
    by each run of N transactions are written to DynamoDB items and read back, as the stream
    scorer does between batches.
    """
    inputs = [FeatureInput.from_record(r) for r in _records(transactions)]
    inputs.sort(key=lambda i: (i.time_ms, i.transaction_id))
    pending = sorted(_fraud_reports(labels), key=lambda pair: pair[0])
    by_id: dict[str, FeatureInput] = {}
    cards: dict[str, CardState] = {}
    merchants: dict[str, MerchantState] = {}
    vectors = np.empty((len(inputs), len(FEATURE_NAMES)), dtype=np.float64)
    next_label = 0
    touched_cards: set[str] = set()
    touched_merchants: set[str] = set()
    for row, inp in enumerate(inputs):
        while next_label < len(pending) and pending[next_label][0] <= inp.time_ms:
            reported_ms, tid = pending[next_label]
            next_label += 1
            fraud = by_id.get(tid)
            if fraud is not None:
                merchants[fraud.merchant_id].apply_fraud_label(fraud.time_ms, reported_ms)
                touched_merchants.add(fraud.merchant_id)
        card = cards.get(inp.card_id)
        if card is None:
            card = cards[inp.card_id] = CardState(inp.card_id)
        merchant = merchants.get(inp.merchant_id)
        if merchant is None:
            merchant = merchants[inp.merchant_id] = MerchantState(inp.merchant_id)
        vectors[row] = compute_and_apply(inp, card, merchant)
        by_id[inp.transaction_id] = inp
        if persist_every:
            touched_cards.add(inp.card_id)
            touched_merchants.add(inp.merchant_id)
            if (row + 1) % persist_every == 0:
                _persist(cards, merchants, touched_cards, touched_merchants)
        if on_step is not None and row % 10_000 == 0:
            on_step(row)
    return ReplayResult([i.transaction_id for i in inputs], vectors, cards, merchants)


def _fraud_reports(labels: pd.DataFrame | pa.Table | None) -> Iterable[tuple[int, str]]:
    if labels is None:
        return []
    return [
        (epoch_ms(r["reported_at"]), r["transaction_id"]) for r in _records(labels) if r["is_fraud"]
    ]


def _persist(
    cards: dict[str, CardState],
    merchants: dict[str, MerchantState],
    touched_cards: set[str],
    touched_merchants: set[str],
) -> None:
    for key in touched_cards:
        cards[key] = decode_card(encode_card(cards[key]))
    for key in touched_merchants:
        merchants[key] = decode_merchant(encode_merchant(merchants[key]))
    touched_cards.clear()
    touched_merchants.clear()
