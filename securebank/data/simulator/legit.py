"""Genuine spending: customers buying from their usual merchants at their usual hours."""

from __future__ import annotations

import numpy as np

from securebank.data.simulator.catalog import HOURLY_PROFILE
from securebank.data.simulator.events import LEGIT, Events
from securebank.data.simulator.population import (
    CAT_CHANNEL,
    CAT_MEDIAN,
    CAT_SIGMA,
    CITY_OFFSET,
    Customers,
    Merchants,
)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: Relative volume by weekday, Monday first.
WEEKDAY_VOLUME = np.array([0.95, 0.97, 1.0, 1.03, 1.15, 1.18, 0.92])
_LOCAL = np.isin(CAT_CHANNEL, ["pos", "atm"])
_DEVICE_CHANNEL = np.isin(CAT_CHANNEL, ["ecommerce", "transfer"])


def favourite_rank(rng: np.random.Generator, size: int) -> np.ndarray:
    """Which of a customer's habitual merchants is used: mostly the first few, sometimes any."""
    rank = rng.choice(4, size=size, p=[0.55, 0.2, 0.1, 0.15])
    return np.where(rank == 3, rng.integers(3, 1 << 30, size=size), rank)


def habitual_merchant(
    merchants: Merchants,
    customer: np.ndarray,
    city: np.ndarray,
    cat: np.ndarray,
    rank: np.ndarray,
) -> np.ndarray:
    """The customer's rank-th usual merchant of a category (local ones in `city`)."""
    key = (customer * 7919 + cat * 104_729 + rank * 15_485_863) & 0x3FFFFFFF
    local = _LOCAL[cat]
    return np.where(
        local,
        merchants.pick_local(np.where(local, city, 0), cat, key),
        merchants.pick_remote(np.where(local, 0, cat), key),
    )


def day_start_ms(rng: np.random.Generator, start_ms: int, days: int, size: int) -> np.ndarray:
    weekday_of_day = (start_ms // DAY_MS + 3 + np.arange(days)) % 7
    weight = WEEKDAY_VOLUME[weekday_of_day]
    day = rng.choice(days, size=size, p=weight / weight.sum())
    return start_ms + day * DAY_MS, day


def generate_legit(
    rng: np.random.Generator,
    count: int,
    customers: Customers,
    merchants: Merchants,
    start_ms: int,
    days: int,
) -> Events:
    weight = customers.activity / customers.activity.sum()
    customer = rng.choice(len(customers), size=count, p=weight)
    day_ms, day = day_start_ms(rng, start_ms, days, count)
    travelling = (
        (customers.trip_city[customer] >= 0)
        & (day >= customers.trip_first_day[customer])
        & (day <= customers.trip_last_day[customer])
    )
    city = np.where(travelling, customers.trip_city[customer], customers.home_city[customer])
    local_hour = rng.choice(24, size=count, p=HOURLY_PROFILE)
    time_ms = (
        day_ms + (local_hour - CITY_OFFSET[city]) * HOUR_MS + rng.integers(0, HOUR_MS, size=count)
    )
    time_ms = np.clip(time_ms, start_ms, start_ms + days * DAY_MS - 1)

    # drift: habits move from the start profile to the end one, spending levels change with
    # the customer and with each category's prices over the months
    elapsed = (day + 0.5) / days
    late = rng.random(count) < elapsed
    u = rng.random(count)
    cat = (customers.profile_cdf[2 * customer + late] < u[:, None]).sum(axis=1)
    cat = np.minimum(cat, customers.profile_cdf.shape[1] - 1)
    merchant = habitual_merchant(merchants, customer, city, cat, favourite_rank(rng, count))

    price_trend = rng.normal(0.05, 0.15, size=len(CAT_MEDIAN))
    amount = (
        CAT_MEDIAN[cat]
        * customers.scale[customer]
        * np.exp(customers.scale_drift[customer] * elapsed + price_trend[cat] * elapsed)
        * rng.lognormal(0.0, CAT_SIGMA[cat], size=count)
    )
    card = customers.card_start[customer] + np.where(
        (customers.n_cards[customer] == 2) & (rng.random(count) < 0.25), 1, 0
    )
    device = customers.device_start[customer] + np.where(
        (customers.n_devices[customer] == 2) & (rng.random(count) < 0.3), 1, 0
    )
    device = np.where(_DEVICE_CHANNEL[cat], device, -1)
    r = rng.random(count)
    decline_p = 0.012 + 0.03 * (amount > 1000)
    status = np.where(r < decline_p, 1, np.where(r < decline_p + 0.004, 2, 0))
    return Events(
        time_ms=time_ms.astype(np.int64),
        customer=customer,
        card=card,
        merchant=merchant,
        amount_usd=amount,
        device=device,
        status=status,
        scenario=np.full(count, LEGIT),
        episode=np.full(count, -1),
    )
