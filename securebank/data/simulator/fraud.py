"""Fraud scenarios. Each produces episodes of fraudulent transactions tagged with its name.

Real fraud hides inside genuine behaviour: most fraudulent amounts are close to what the card
usually spends, at kinds of merchants the card uses, so no single field gives it away. Each
scenario here leaves a trace only in how transactions relate to each other (a terminal's history,
a card's pace, a new device or place), and each one's share of the fraud drifts over the months.

- compromised_terminal: a card-present terminal (skimmer, rogue employee) is compromised for
  weeks; a fraction of its customers' transactions there are fraudulent, at ordinary amounts.
- compromised_merchant: cards used at a breached merchant are used online elsewhere in the
  following days, at amounts like the card's own.
- card_testing: a few small charges at online merchants the card's owner already uses, then
  purchases near the card's usual amounts.
- velocity: a run of ordinary-sized purchases at different merchants within hours.
- account_takeover: a new device, online or transfer merchants, amounts a few times the usual.
- impossible_travel: a genuine purchase at home, then the cloned card abroad minutes later.
- unusual_amount: one purchase many times larger than the card's usual spend (the rare easy one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from securebank.data.simulator.events import SCENARIO_CODE, Events
from securebank.data.simulator.legit import DAY_MS, HOUR_MS, favourite_rank, habitual_merchant
from securebank.data.simulator.population import (
    CAT_MCC,
    CAT_MEDIAN,
    CAT_SIGMA,
    FOREIGN_CITIES,
    Customers,
    Merchants,
)

SHARES = {
    "compromised_terminal": 0.32,
    "compromised_merchant": 0.14,
    "card_testing": 0.12,
    "velocity": 0.12,
    "account_takeover": 0.13,
    "impossible_travel": 0.09,
    "unusual_amount": 0.08,
}
SIZE_RANGE = {
    "compromised_terminal": (1, 1),
    "compromised_merchant": (1, 4),
    "card_testing": (3, 8),
    "velocity": (3, 8),
    "account_takeover": (2, 5),
    "impossible_travel": (1, 3),
    "unusual_amount": (1, 1),
}
#: Drift: the density of episode starts over the period is 1 + slope * (x - 0.5), x in [0, 1],
#: so some scenarios grow and others fade over the months.
SLOPES = {
    "compromised_terminal": 0.4,
    "compromised_merchant": 0.9,
    "card_testing": 1.4,
    "velocity": -0.8,
    "account_takeover": -1.2,
    "impossible_travel": -0.4,
    "unusual_amount": -1.4,
}
#: Share of fraud episodes whose label never arrives (the bank never learns of them).
UNLABELLED_SHARE = 0.08
#: Compromised terminals: how long (days), and which share of their transactions are fraud.
TERMINAL_DAYS = (21, 61)
TERMINAL_FRAUD_SHARE = (0.4, 0.8)
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
            target = max(1, round(total * share))
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

    @property
    def converted(self) -> int:
        """Genuine transactions that compromised terminals turn into fraud (not added)."""
        return int(self.sizes["compromised_terminal"].sum())


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
        self.days = days
        self.end_ms = start_ms + days * DAY_MS
        self.next_device = first_fraud_device
        self.next_episode = 0
        self.risky = np.flatnonzero(merchants.risky)

    # -- shared pieces -------------------------------------------------------------------------
    def _victims(self, count: int) -> np.ndarray:
        weight = self.customers.activity / self.customers.activity.sum()
        return self.rng.choice(len(self.customers), size=count, p=weight)

    def _episode_starts(self, count: int, margin_ms: int, scenario: str) -> np.ndarray:
        """Start times whose density drifts over the period (`SLOPES`)."""
        slope = SLOPES[scenario]
        x = self.rng.random(4 * count + 8)
        accept = self.rng.random(len(x)) * (1 + abs(slope) / 2) < 1 + slope * (x - 0.5)
        x = x[accept][:count]
        if len(x) < count:
            x = np.concatenate([x, self.rng.random(count - len(x))])
        first, last = self.start_ms + DAY_MS, self.end_ms - margin_ms
        return (first + x * (last - first)).astype(np.int64)

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
        """The customer's first card, or their second one when they have two (a third of the
        time), so fraud is not confined to first cards."""
        second = (self.customers.n_cards[customer] == 2) & (self.rng.random(len(customer)) < 0.33)
        return self.customers.card_start[customer] + second

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

    def _usual_amount(self, customer: np.ndarray, merchant: np.ndarray, tilt: float) -> np.ndarray:
        """What this customer would typically spend at this kind of merchant, times a mild
        upward tilt (fraudsters spend a little more, not ten times more)."""
        cat = self.merchants.category[merchant]
        usual = CAT_MEDIAN[cat] * self.customers.scale[customer]
        spread = self.rng.lognormal(0.0, CAT_SIGMA[cat], size=len(customer))
        return usual * spread * self.rng.lognormal(np.log(tilt), 0.35, size=len(customer))

    def _status(self, count: int, declined: float) -> np.ndarray:
        return np.where(self.rng.random(count) < declined, 1, 0)

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
        card: np.ndarray | None = None,
    ) -> Events:
        ids = self.next_episode + episode
        self.next_episode = int(ids.max(initial=self.next_episode - 1)) + 1
        count = len(time_ms)
        return Events(
            time_ms=np.clip(time_ms, self.start_ms, self.end_ms - 1).astype(np.int64),
            customer=customer,
            card=self._card_of(customer) if card is None else card,
            merchant=merchant,
            amount_usd=amount,
            device=device,
            status=status,
            scenario=np.full(count, SCENARIO_CODE[scenario]),
            episode=ids,
        )

    # -- scenarios -----------------------------------------------------------------------------
    def compromised_terminal(self, total: int, legit: Events) -> np.ndarray:
        """Turn `total` genuine card-present transactions into fraud at compromised terminals.

        Terminals are drawn among busy card-present merchants; each is compromised for weeks
        (`TERMINAL_DAYS`) and a share (`TERMINAL_FRAUD_SHARE`) of its transactions in that time
        become fraud, at amounts close to the genuine ones. Returns the rows of `legit` turned
        (marked in place); each is its own episode, as each cardholder reports separately.
        """
        rng = self.rng
        local = np.flatnonzero(self.merchants.city[legit.merchant] >= 0)
        by_merchant = np.bincount(legit.merchant[local], minlength=len(self.merchants))
        busy = np.flatnonzero(
            by_merchant >= max(10, np.quantile(by_merchant[by_merchant > 0], 0.5))
        )
        order = local[np.lexsort((legit.time_ms[local], legit.merchant[local]))]
        sorted_merchant = legit.merchant[order]
        chosen: list[np.ndarray] = []
        taken = 0
        tried = 0
        # breaches spread evenly over the period (a low-discrepancy sequence of start times)
        phase = rng.random()
        period_first, period_last = self.start_ms + DAY_MS, self.end_ms - TERMINAL_DAYS[0] * DAY_MS
        while taken < total and tried < 50 * max(total, 1):
            tried += 1
            terminal = int(rng.choice(busy))
            x = (phase + tried * 0.6180339887) % 1.0
            first = int(period_first + x * (period_last - period_first))
            last = first + int(rng.integers(*TERMINAL_DAYS)) * DAY_MS
            lo, hi = np.searchsorted(sorted_merchant, [terminal, terminal + 1])
            rows = order[lo:hi]
            rows = rows[(legit.time_ms[rows] >= first) & (legit.time_ms[rows] < last)]
            rows = rows[legit.episode[rows] < 0]
            picked = rows[rng.random(len(rows)) < rng.uniform(*TERMINAL_FRAUD_SHARE)]
            picked = picked[: total - taken]
            if len(picked):
                legit.episode[picked] = 0  # provisional: marks the row as taken
                chosen.append(picked)
                taken += len(picked)
        rows = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
        legit.scenario[rows] = SCENARIO_CODE["compromised_terminal"]
        legit.episode[rows] = self.next_episode + np.arange(len(rows))
        self.next_episode += len(rows)
        legit.amount_usd[rows] *= rng.lognormal(np.log(1.3), 0.3, size=len(rows))
        return rows

    def card_testing(self, sizes: np.ndarray) -> Events:
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        victim = self._victims(n_ep)[episode]
        start = self._episode_starts(n_ep, 3 * DAY_MS, "card_testing")[episode]
        gap = np.where(
            position < 3,
            rng.integers(_MINUTE, 15 * _MINUTE, size=n),
            rng.integers(10 * _MINUTE, 4 * HOUR_MS, size=n),
        )
        time_ms = start + np.cumsum(gap) - np.cumsum(gap)[np.cumsum(sizes) - sizes][episode]
        probing = position < np.maximum(sizes[episode] // 2, 2)
        remote_cat = rng.choice([_cat("5999"), _cat("5964"), _cat("4121")], size=n)
        own = habitual_merchant(
            self.merchants,
            victim,
            self.customers.home_city[victim],
            remote_cat,
            favourite_rank(rng, n),
        )
        merchant = np.where(rng.random(n) < 0.75, own, self._remote("5999", n))
        amount = np.where(
            probing, rng.uniform(0.5, 5.0, size=n), self._usual_amount(victim, merchant, 1.5)
        )
        status = np.where(probing, self._status(n, 0.5), self._status(n, 0.06))
        device = self._new_devices(n_ep)[episode]
        return self._events(
            "card_testing", episode, time_ms, victim, merchant, amount, device, status
        )

    def velocity(self, sizes: np.ndarray) -> Events:
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        victim = self._victims(n_ep)[episode]
        start = self._episode_starts(n_ep, DAY_MS, "velocity")[episode]
        time_ms = start + position * rng.integers(5 * _MINUTE, 30 * _MINUTE, size=n)
        home = self.customers.home_city[victim]
        mcc = rng.choice(
            ["5732", "5311", "5411", "5541", "5944"], size=n, p=[0.25, 0.3, 0.2, 0.15, 0.1]
        )
        local = np.select(
            [mcc == "5732", mcc == "5311", mcc == "5411", mcc == "5541"],
            [
                self._local(home, "5732"),
                self._local(home, "5311"),
                self._local(home, "5411"),
                self._local(home, "5541"),
            ],
            self._local(home, "5944"),
        )
        online = rng.random(n) < 0.35
        merchant = np.where(online, self._remote("5999", n), local)
        amount = self._usual_amount(victim, merchant, 2.0)
        device = np.where(online, self._new_devices(n_ep)[episode], -1)
        return self._events(
            "velocity", episode, time_ms, victim, merchant, amount, device, self._status(n, 0.08)
        )

    def account_takeover(self, sizes: np.ndarray) -> Events:
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        victim = self._victims(n_ep)[episode]
        start = self._episode_starts(n_ep, DAY_MS, "account_takeover")[episode]
        time_ms = start + position * rng.integers(20 * _MINUTE, 12 * HOUR_MS, size=n)
        pick = rng.random(n)
        merchant = np.where(
            pick < 0.5,
            self._remote("4829", n),
            np.where(pick < 0.8, self._remote("5999", n), self._remote("5964", n)),
        )
        amount = self._usual_amount(victim, merchant, 3.0)
        device = self._new_devices(n_ep)[episode]
        return self._events(
            "account_takeover",
            episode,
            time_ms,
            victim,
            merchant,
            amount,
            device,
            self._status(n, 0.06),
        )

    def impossible_travel(self, sizes: np.ndarray) -> tuple[Events, Events]:
        """The fraud episodes and the genuine home purchase that anchors each one."""
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        victims = self._victims(n_ep)
        starts = self._episode_starts(n_ep, DAY_MS, "impossible_travel")
        home = self.customers.home_city[victims]
        cards = self._card_of(victims)
        anchor = Events(
            time_ms=starts.astype(np.int64),
            customer=victims,
            card=cards,
            merchant=self._local(home, "5411"),
            amount_usd=rng.lognormal(np.log(45), 0.5, size=n_ep) * self.customers.scale[victims],
            device=np.full(n_ep, -1),
            status=np.zeros(n_ep, dtype=np.int64),
            scenario=np.zeros(n_ep, dtype=np.int64),
            episode=np.full(n_ep, -1),
        )
        far_city = rng.choice(FOREIGN_CITIES, size=n_ep)
        far_city = np.where(far_city == home, FOREIGN_CITIES[0], far_city)[episode]
        time_ms = (
            starts[episode]
            + rng.integers(20 * _MINUTE, 6 * HOUR_MS, size=n)
            + position * 40 * _MINUTE
        )
        atm = rng.random(n) < 0.4
        merchant = np.where(
            atm,
            self._local(far_city, "6011"),
            np.where(
                rng.random(n) < 0.5, self._local(far_city, "5311"), self._local(far_city, "5411")
            ),
        )
        amount = self._usual_amount(victims[episode], merchant, 1.5)
        fraud = self._events(
            "impossible_travel",
            episode,
            time_ms,
            victims[episode],
            merchant,
            amount,
            np.full(n, -1),
            self._status(n, 0.08),
            card=cards[episode],
        )
        return fraud, anchor

    def compromised_merchant(self, sizes: np.ndarray, legit: Events) -> Events:
        rng = self.rng
        episode, position = self._expand(sizes)
        n_ep, n = len(sizes), int(sizes.sum())
        counts = np.bincount(legit.merchant, minlength=len(self.merchants))
        breached = np.argsort(counts)[::-1][: max(3, n_ep // 25)]
        at_breach = np.flatnonzero(np.isin(legit.merchant, breached))
        at_breach = at_breach[legit.time_ms[at_breach] < self.end_ms - 3 * DAY_MS]
        source = (
            rng.choice(at_breach, size=n_ep) if len(at_breach) else rng.choice(len(legit), n_ep)
        )
        victim = legit.customer[source]
        start = legit.time_ms[source] + rng.integers(DAY_MS, 20 * DAY_MS, size=n_ep)
        time_ms = start[episode] + position * rng.integers(HOUR_MS, 2 * DAY_MS, size=n)
        remote_cat = rng.choice([_cat("5999"), _cat("5964"), _cat("4121"), _cat("4511")], size=n)
        merchant = (
            self.merchants.remote_start[remote_cat]
            + rng.integers(0, 1 << 30, size=n) % self.merchants.remote_size[remote_cat]
        )
        amount = self._usual_amount(victim[episode], merchant, 1.6)
        device = np.where(rng.random(n) < 0.8, self._new_devices(n_ep)[episode], -1)
        return self._events(
            "compromised_merchant",
            episode,
            time_ms,
            victim[episode],
            merchant,
            amount,
            device,
            self._status(n, 0.08),
            card=legit.card[source][episode],
        )

    def unusual_amount(self, sizes: np.ndarray) -> Events:
        rng = self.rng
        episode, _ = self._expand(sizes)
        n = len(sizes)
        victim = self._victims(n)
        time_ms = self._episode_starts(n, DAY_MS, "unusual_amount")
        home = self.customers.home_city[victim]
        online = rng.random(n) < 0.5
        merchant = np.where(online, self._remote("5999", n), self._local(home, "5732"))
        base = CAT_MEDIAN[_cat("5732")] * self.customers.scale[victim]
        amount = base * rng.uniform(4, 20, size=n)
        own_device = self.customers.device_start[victim]
        device = np.where(
            online, np.where(rng.random(n) < 0.5, own_device, self._new_devices(n)), -1
        )
        return self._events(
            "unusual_amount",
            episode,
            time_ms,
            victim,
            merchant,
            amount,
            device,
            self._status(n, 0.12),
        )
