"""Fraud scenarios. Each produces episodes of fraudulent transactions tagged with its name.

- card_testing: bursts of tiny online charges (many declined), then a cash-out purchase.
- velocity: a run of sizeable purchases at different merchants within a few hours.
- account_takeover: a new device, a foreign or transfer merchant, high amounts.
- impossible_travel: a genuine purchase at home, then the cloned card abroad minutes later.
- compromised_merchant: cards used at a breached terminal are defrauded in the following days.
- unusual_amount: one purchase many times larger than the card's usual spend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from securebank.simulator.events import SCENARIO_CODE, Events
from securebank.simulator.legit import DAY_MS, HOUR_MS
from securebank.simulator.population import (
    CAT_MCC,
    CAT_MEDIAN,
    FOREIGN_CITIES,
    Customers,
    Merchants,
)

SHARES = {
    "card_testing": 0.16,
    "velocity": 0.16,
    "account_takeover": 0.18,
    "impossible_travel": 0.14,
    "compromised_merchant": 0.2,
    "unusual_amount": 0.16,
}
SIZE_RANGE = {
    "card_testing": (8, 25),
    "velocity": (5, 12),
    "account_takeover": (1, 4),
    "impossible_travel": (1, 3),
    "compromised_merchant": (1, 3),
    "unusual_amount": (1, 1),
}
_MINUTE = 60_000


def _cat(mcc: str) -> int:
    return int(np.flatnonzero(mcc == CAT_MCC)[0])


@dataclass
class FraudPlan:
    """How many transactions each scenario contributes, decided before anything is generated."""

    sizes: dict[str, np.ndarray]

    @classmethod
    def draw(cls, rng: np.random.Generator, total: int) -> FraudPlan:
        sizes = {}
        for name, share in SHARES.items():
            target = round(total * share)
            lo, hi = SIZE_RANGE[name]
            drawn = rng.integers(lo, hi + 1, size=max(1, target // lo + 1))
            cut = np.cumsum(drawn)
            keep = drawn[: int(np.searchsorted(cut, target)) + 1].copy()
            if len(keep) and keep.sum() > target:
                keep[-1] -= keep.sum() - target
            sizes[name] = keep[keep > 0]
        return cls(sizes)

    @property
    def anchors(self) -> int:
        """Genuine transactions that the impossible-travel episodes add."""
        return len(self.sizes["impossible_travel"])


class FraudFactory:
    def __init__(
        self,
        rng: np.random.Generator,
        customers: Customers,
        merchants: Merchants,
        start_ms: int,
        days: int,
        first_fraud_device: int,
    ) -> None:
        self.rng = rng
        self.customers = customers
        self.merchants = merchants
        self.start_ms = start_ms
        self.end_ms = start_ms + days * DAY_MS
        self.next_device = first_fraud_device
        self.next_episode = 0
        self.risky = np.flatnonzero(merchants.risky)

    # -- shared pieces -------------------------------------------------------------------------
    def _victims(self, count: int) -> np.ndarray:
        weight = self.customers.activity / self.customers.activity.sum()
        return self.rng.choice(len(self.customers), size=count, p=weight)

    def _episode_starts(self, count: int, margin_ms: int) -> np.ndarray:
        return self.rng.integers(self.start_ms + DAY_MS, self.end_ms - margin_ms, size=count)

    def _expand(self, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        episode = np.repeat(np.arange(len(sizes)), sizes)
        first = np.cumsum(sizes) - sizes
        position = np.arange(int(sizes.sum())) - first[episode]
        return episode, position

    def _new_devices(self, count: int) -> np.ndarray:
        devices = np.arange(self.next_device, self.next_device + count)
        self.next_device += count
        return devices

    def _card_of(self, customer: np.ndarray) -> np.ndarray:
        return self.customers.card_start[customer]

    def _risky_or(self, alternative: np.ndarray, p_risky: float) -> np.ndarray:
        pick = self.rng.choice(self.risky, size=len(alternative))
        return np.where(self.rng.random(len(alternative)) < p_risky, pick, alternative)

    def _remote(self, mcc: str, count: int) -> np.ndarray:
        cat = _cat(mcc)
        return self.merchants.remote_start[cat] + self.rng.integers(
            0, self.merchants.remote_size[cat], size=count
        )

    def _local(self, city: np.ndarray, mcc: str) -> np.ndarray:
        cat = _cat(mcc)
        return (
            self.merchants.local_start[city, cat]
            + self.rng.integers(0, 1 << 30, size=len(city)) % self.merchants.local_size[city, cat]
        )

    def _events(
        self,
        scenario: str,
        episode: np.ndarray,
        time_ms: np.ndarray,
        customer: np.ndarray,
        merchant: np.ndarray,
        amount: np.ndarray,
        device: np.ndarray,
        status: np.ndarray,
    ) -> Events:
        ids = self.next_episode + episode
        self.next_episode = int(ids.max(initial=self.next_episode - 1)) + 1
        count = len(time_ms)
        return Events(
            time_ms=np.clip(time_ms, self.start_ms, self.end_ms - 1).astype(np.int64),
            customer=customer,
            card=self._card_of(customer),
            merchant=merchant,
            amount_usd=amount,
            device=device,
            status=status,
            scenario=np.full(count, SCENARIO_CODE[scenario]),
            episode=ids,
        )

    # -- scenarios -----------------------------------------------------------------------------
    def card_testing(self, sizes: np.ndarray) -> Events:
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        victim = self._victims(n_ep)[episode]
        start = self._episode_starts(n_ep, DAY_MS)[episode]
        time_ms = start + position * rng.integers(30_000, 4 * _MINUTE, size=n)
        last = position >= sizes[episode] - 1 - (sizes[episode] > 12)
        merchant = self._risky_or(self._remote("5964", n), 0.7)
        amount = np.where(last, rng.uniform(150, 900, size=n), rng.uniform(0.5, 3.0, size=n))
        status = np.where(~last & (rng.random(n) < 0.5), 1, 0)
        device = self._new_devices(n_ep)[episode]
        return self._events(
            "card_testing", episode, time_ms, victim, merchant, amount, device, status
        )

    def velocity(self, sizes: np.ndarray) -> Events:
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        victim = self._victims(n_ep)[episode]
        start = self._episode_starts(n_ep, DAY_MS)[episode]
        time_ms = start + position * rng.integers(5 * _MINUTE, 25 * _MINUTE, size=n)
        home = self.customers.home_city[victim]
        mcc = rng.choice(["5732", "5311", "5944"], size=n)
        local = np.select(
            [mcc == "5732", mcc == "5311"],
            [self._local(home, "5732"), self._local(home, "5311")],
            self._local(home, "5944"),
        )
        online = rng.random(n) < 0.35
        merchant = np.where(online, self._risky_or(self._remote("5999", n), 0.6), local)
        amount = rng.lognormal(np.log(320), 0.5, size=n)
        device = np.where(online, self._new_devices(n_ep)[episode], -1)
        status = np.where(rng.random(n) < 0.12, 1, 0)
        return self._events("velocity", episode, time_ms, victim, merchant, amount, device, status)

    def account_takeover(self, sizes: np.ndarray) -> Events:
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        victim = self._victims(n_ep)[episode]
        start = self._episode_starts(n_ep, DAY_MS)[episode]
        time_ms = start + position * rng.integers(10 * _MINUTE, 90 * _MINUTE, size=n)
        remote = self.merchants.city < 0
        foreign_online = np.flatnonzero(remote & (self.merchants.country != "US"))
        transfer = self._remote("4829", n)
        pick = rng.random(n)
        merchant = np.where(
            pick < 0.4,
            transfer,
            np.where(pick < 0.75, rng.choice(foreign_online, size=n), rng.choice(self.risky, n)),
        )
        amount = rng.lognormal(np.log(1800), 0.6, size=n)
        device = self._new_devices(n_ep)[episode]
        status = np.where(rng.random(n) < 0.08, 1, 0)
        return self._events(
            "account_takeover", episode, time_ms, victim, merchant, amount, device, status
        )

    def impossible_travel(self, sizes: np.ndarray) -> tuple[Events, Events]:
        """The fraud episodes and the genuine home purchase that anchors each one."""
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        victims = self._victims(n_ep)
        starts = self._episode_starts(n_ep, DAY_MS)
        home = self.customers.home_city[victims]
        anchor = Events(
            time_ms=starts.astype(np.int64),
            customer=victims,
            card=self._card_of(victims),
            merchant=self._local(home, "5411"),
            amount_usd=rng.lognormal(np.log(45), 0.5, size=n_ep),
            device=np.full(n_ep, -1),
            status=np.zeros(n_ep, dtype=np.int64),
            scenario=np.zeros(n_ep, dtype=np.int64),
            episode=np.full(n_ep, -1),
        )
        far_city = rng.choice(FOREIGN_CITIES, size=n_ep)
        far_city = np.where(far_city == home, FOREIGN_CITIES[0], far_city)[episode]
        time_ms = (
            starts[episode]
            + rng.integers(5 * _MINUTE, 90 * _MINUTE, size=n)
            + position * 20 * _MINUTE
        )
        atm = rng.random(n) < 0.5
        merchant = np.where(atm, self._local(far_city, "6011"), self._local(far_city, "5944"))
        amount = np.where(atm, rng.uniform(200, 600, size=n), rng.uniform(300, 1500, size=n))
        status = np.where(rng.random(n) < 0.1, 1, 0)
        fraud = self._events(
            "impossible_travel",
            episode,
            time_ms,
            victims[episode],
            merchant,
            amount,
            np.full(n, -1),
            status,
        )
        return fraud, anchor

    def compromised_merchant(self, sizes: np.ndarray, legit: Events) -> Events:
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        local = np.flatnonzero(self.merchants.city[legit.merchant] >= 0)
        counts = np.bincount(legit.merchant[local], minlength=len(self.merchants))
        breached = np.argsort(counts)[::-1][: max(2, n_ep // 40)]
        at_breach = local[np.isin(legit.merchant[local], breached)]
        at_breach = at_breach[legit.time_ms[at_breach] < self.end_ms - 3 * DAY_MS]
        source = (
            rng.choice(at_breach, size=n_ep) if len(at_breach) else rng.choice(len(legit), n_ep)
        )
        victim = legit.customer[source]
        start = legit.time_ms[source] + rng.integers(DAY_MS, 12 * DAY_MS, size=n_ep)
        time_ms = start[episode] + position * rng.integers(HOUR_MS, 2 * DAY_MS, size=n)
        remote = self.merchants.city < 0
        foreign_online = np.flatnonzero(remote & (self.merchants.country != "US"))
        merchant = np.where(
            rng.random(n) < 0.5,
            self._risky_or(self._remote("5999", n), 0.6),
            rng.choice(foreign_online, size=n),
        )
        amount = rng.lognormal(np.log(260), 0.7, size=n)
        device = self._new_devices(n_ep)[episode]
        status = np.where(rng.random(n) < 0.1, 1, 0)
        return self._events(
            "compromised_merchant",
            episode,
            time_ms,
            victim[episode],
            merchant,
            amount,
            device,
            status,
        )

    def unusual_amount(self, sizes: np.ndarray) -> Events:
        rng = self.rng
        episode, _ = self._expand(sizes)
        n = len(sizes)
        victim = self._victims(n)
        time_ms = self._episode_starts(n, DAY_MS)
        home = self.customers.home_city[victim]
        online = rng.random(n) < 0.5
        merchant = np.where(online, self._remote("5999", n), self._local(home, "5732"))
        base = CAT_MEDIAN[_cat("5732")] * self.customers.scale[victim]
        amount = base * rng.uniform(8, 40, size=n)
        own_device = self.customers.device_start[victim]
        device = np.where(
            online, np.where(rng.random(n) < 0.5, own_device, self._new_devices(n)), -1
        )
        status = np.where(rng.random(n) < 0.15, 1, 0)
        return self._events(
            "unusual_amount", episode, time_ms, victim, merchant, amount, device, status
        )
