"""Customers, cards, devices and merchants: who transacts, where, and how much."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from securebank.data.simulator.catalog import CATEGORIES, CITIES, HOME_COUNTRY

CITY_COUNTRY = np.array([c.country for c in CITIES])
CITY_CURRENCY = np.array([c.currency for c in CITIES])
CITY_LAT = np.array([c.lat for c in CITIES])
CITY_LON = np.array([c.lon for c in CITIES])
CITY_WEIGHT = np.array([c.weight for c in CITIES])
CITY_OFFSET = np.array([c.utc_offset_hours for c in CITIES])
HOME_CITIES = np.nonzero(CITY_COUNTRY == HOME_COUNTRY)[0]
FOREIGN_CITIES = np.nonzero(CITY_COUNTRY != HOME_COUNTRY)[0]
CAT_MCC = np.array([c.mcc for c in CATEGORIES])
CAT_MEDIAN = np.array([c.median_usd for c in CATEGORIES])
CAT_SIGMA = np.array([c.sigma for c in CATEGORIES])
CAT_CHANNEL = np.array([c.channel for c in CATEGORIES])
CAT_WEIGHT = np.array([c.weight for c in CATEGORIES])
LOCAL_CATS = np.nonzero(np.isin(CAT_CHANNEL, ["pos", "atm"]))[0]
REMOTE_CATS = np.nonzero(~np.isin(CAT_CHANNEL, ["pos", "atm"]))[0]


def _weights(values: np.ndarray) -> np.ndarray:
    return values / values.sum()


@dataclass
class Merchants:
    """Merchants, stored so that those of one (city, category) are contiguous.

    Card-present merchants (pos, atm) have a city and a location; remote ones (ecommerce,
    transfer) have a country but no city (-1) and no location.
    """

    category: np.ndarray
    city: np.ndarray
    country: np.ndarray
    currency: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    risky: np.ndarray
    local_start: np.ndarray  # [city, category] -> first merchant, or -1
    local_size: np.ndarray
    remote_start: np.ndarray  # [category] -> first merchant, or -1
    remote_size: np.ndarray

    def __len__(self) -> int:
        return len(self.category)

    def pick_local(self, city: np.ndarray, cat: np.ndarray, rank: np.ndarray) -> np.ndarray:
        return self.local_start[city, cat] + rank % self.local_size[city, cat]

    def pick_remote(self, cat: np.ndarray, rank: np.ndarray) -> np.ndarray:
        return self.remote_start[cat] + rank % self.remote_size[cat]


def make_merchants(rng: np.random.Generator, target: int) -> Merchants:
    n_city, n_cat = len(CITIES), len(CATEGORIES)
    local_share = 0.8
    city_w = _weights(CITY_WEIGHT)
    cat_local_w = np.zeros(n_cat)
    cat_local_w[LOCAL_CATS] = _weights(CAT_WEIGHT[LOCAL_CATS])
    local_counts = np.maximum(
        1, np.rint(target * local_share * np.outer(city_w, cat_local_w)).astype(np.int64)
    )
    local_counts[:, REMOTE_CATS] = 0
    cat_remote_w = np.zeros(n_cat)
    cat_remote_w[REMOTE_CATS] = _weights(CAT_WEIGHT[REMOTE_CATS])
    remote_counts = np.maximum(2, np.rint(target * (1 - local_share) * cat_remote_w)).astype(
        np.int64
    )
    remote_counts[LOCAL_CATS] = 0

    flat_local = local_counts.ravel()
    local_cat = np.repeat(np.tile(np.arange(n_cat), n_city), flat_local)
    local_city = np.repeat(np.repeat(np.arange(n_city), n_cat), flat_local)
    remote_cat = np.repeat(np.arange(n_cat), remote_counts)
    n_local, n_remote = len(local_cat), len(remote_cat)

    starts = np.concatenate([[0], np.cumsum(flat_local)[:-1]]).reshape(n_city, n_cat)
    local_start = np.where(local_counts > 0, starts, -1)
    remote_start = np.where(
        remote_counts > 0, n_local + np.cumsum(remote_counts) - remote_counts, -1
    )

    remote_foreign = rng.random(n_remote) < 0.1
    remote_city_for_country = np.where(
        remote_foreign,
        rng.choice(FOREIGN_CITIES, size=n_remote, p=_weights(CITY_WEIGHT[FOREIGN_CITIES])),
        HOME_CITIES[0],
    )
    city = np.concatenate([local_city, np.full(n_remote, -1)])
    country_city = np.concatenate([local_city, remote_city_for_country])
    jitter = rng.normal(0.0, 0.08, size=(n_local, 2))
    lat = np.concatenate([CITY_LAT[local_city] + jitter[:, 0], np.full(n_remote, np.nan)])
    lon = np.concatenate([CITY_LON[local_city] + jitter[:, 1], np.full(n_remote, np.nan)])
    risky = np.zeros(n_local + n_remote, dtype=bool)
    risky[n_local:] = rng.random(n_remote) < 0.04
    risky[n_local + np.flatnonzero(remote_cat == np.flatnonzero(CAT_MCC == "5999")[0])[:1]] = True
    return Merchants(
        category=np.concatenate([local_cat, remote_cat]),
        city=city,
        country=CITY_COUNTRY[country_city],
        currency=np.where(
            np.concatenate([np.zeros(n_local, bool), ~remote_foreign]),
            "USD",
            CITY_CURRENCY[country_city],
        ),
        lat=np.round(lat, 5),
        lon=np.round(lon, 5),
        risky=risky,
        local_start=local_start,
        local_size=np.maximum(local_counts, 1),
        remote_start=remote_start,
        remote_size=np.maximum(remote_counts, 1),
    )


@dataclass
class Customers:
    home_city: np.ndarray
    activity: np.ndarray  # relative transaction rate
    scale: np.ndarray  # spending multiplier
    scale_drift: np.ndarray  # log change of the multiplier over the whole period
    #: [2 * customer + k, category] cumulative category preference, k = 0 at the start of the
    #: period and 1 at its end (habits drift from one to the other).
    profile_cdf: np.ndarray
    card_start: np.ndarray
    n_cards: np.ndarray
    device_start: np.ndarray
    n_devices: np.ndarray
    trip_city: np.ndarray  # -1 when no trip
    trip_first_day: np.ndarray
    trip_last_day: np.ndarray

    def __len__(self) -> int:
        return len(self.home_city)


def make_customers(rng: np.random.Generator, count: int, days: int) -> Customers:
    abroad = rng.random(count) < 0.05
    home = np.where(
        abroad,
        rng.choice(FOREIGN_CITIES, size=count, p=_weights(CITY_WEIGHT[FOREIGN_CITIES])),
        rng.choice(HOME_CITIES, size=count, p=_weights(CITY_WEIGHT[HOME_CITIES])),
    )
    profile = rng.dirichlet(CAT_WEIGHT / CAT_WEIGHT.sum() * 12.0, size=2 * count)
    n_cards = np.where(rng.random(count) < 0.3, 2, 1)
    n_devices = np.where(rng.random(count) < 0.35, 2, 1)
    traveller = rng.random(count) < 0.06
    trip_len = rng.integers(3, 11, size=count)
    trip_first = rng.integers(0, max(1, days - 3), size=count)
    domestic_trip = rng.random(count) < 0.5
    trip_city = np.where(
        domestic_trip,
        rng.choice(HOME_CITIES, size=count),
        rng.choice(FOREIGN_CITIES, size=count, p=_weights(CITY_WEIGHT[FOREIGN_CITIES])),
    )
    trip_city = np.where(traveller & (trip_city != home), trip_city, -1)
    return Customers(
        home_city=home,
        activity=rng.lognormal(0.0, 0.7, size=count),
        scale=rng.lognormal(0.0, 0.45, size=count),
        scale_drift=rng.normal(0.0, 0.3, size=count),
        profile_cdf=np.cumsum(profile, axis=1),
        card_start=np.cumsum(n_cards) - n_cards,
        n_cards=n_cards,
        device_start=np.cumsum(n_devices) - n_devices,
        n_devices=n_devices,
        trip_city=trip_city,
        trip_first_day=trip_first,
        trip_last_day=trip_first + trip_len - 1,
    )
