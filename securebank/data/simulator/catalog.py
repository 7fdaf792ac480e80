"""The world the simulator draws from: cities and merchant categories, with their habits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class City:
    name: str
    country: str
    currency: str
    lat: float
    lon: float
    weight: float

    @property
    def utc_offset_hours(self) -> int:
        return round(self.lon / 15.0)


CITIES: tuple[City, ...] = (
    City("New York", "US", "USD", 40.7128, -74.0060, 8.0),
    City("Los Angeles", "US", "USD", 34.0522, -118.2437, 6.0),
    City("Chicago", "US", "USD", 41.8781, -87.6298, 4.0),
    City("Houston", "US", "USD", 29.7604, -95.3698, 3.0),
    City("Phoenix", "US", "USD", 33.4484, -112.0740, 2.0),
    City("Philadelphia", "US", "USD", 39.9526, -75.1652, 2.0),
    City("Dallas", "US", "USD", 32.7767, -96.7970, 2.0),
    City("San Diego", "US", "USD", 32.7157, -117.1611, 1.5),
    City("Seattle", "US", "USD", 47.6062, -122.3321, 1.5),
    City("Miami", "US", "USD", 25.7617, -80.1918, 1.5),
    City("Denver", "US", "USD", 39.7392, -104.9903, 1.2),
    City("Boston", "US", "USD", 42.3601, -71.0589, 1.2),
    City("Atlanta", "US", "USD", 33.7490, -84.3880, 1.2),
    City("London", "GB", "GBP", 51.5074, -0.1278, 0.8),
    City("Paris", "FR", "EUR", 48.8566, 2.3522, 0.6),
    City("Berlin", "DE", "EUR", 52.5200, 13.4050, 0.4),
    City("Madrid", "ES", "EUR", 40.4168, -3.7038, 0.4),
    City("Rome", "IT", "EUR", 41.9028, 12.4964, 0.4),
    City("Amsterdam", "NL", "EUR", 52.3676, 4.9041, 0.3),
    City("Zurich", "CH", "CHF", 47.3769, 8.5417, 0.2),
    City("Toronto", "CA", "CAD", 43.6532, -79.3832, 0.8),
    City("Mexico City", "MX", "MXN", 19.4326, -99.1332, 0.8),
    City("Sao Paulo", "BR", "BRL", -23.5505, -46.6333, 0.4),
    City("Tokyo", "JP", "JPY", 35.6762, 139.6503, 0.5),
    City("Seoul", "KR", "KRW", 37.5665, 126.9780, 0.3),
    City("Singapore", "SG", "SGD", 1.3521, 103.8198, 0.3),
    City("Sydney", "AU", "AUD", -33.8688, 151.2093, 0.3),
    City("Mumbai", "IN", "INR", 19.0760, 72.8777, 0.3),
    City("Dubai", "AE", "AED", 25.2048, 55.2708, 0.3),
    City("Istanbul", "TR", "TRY", 41.0082, 28.9784, 0.2),
    City("Lagos", "NG", "NGN", 6.5244, 3.3792, 0.2),
    City("Kuwait City", "KW", "KWD", 29.3759, 47.9774, 0.1),
)

HOME_COUNTRY = "US"


@dataclass(frozen=True, slots=True)
class Category:
    mcc: str
    name: str
    median_usd: float
    sigma: float
    channel: str
    weight: float


CATEGORIES: tuple[Category, ...] = (
    Category("5411", "grocery", 45.0, 0.6, "pos", 18.0),
    Category("5812", "restaurants", 38.0, 0.6, "pos", 12.0),
    Category("5814", "fast food", 12.0, 0.5, "pos", 12.0),
    Category("5541", "fuel", 42.0, 0.4, "pos", 9.0),
    Category("5311", "department stores", 70.0, 0.8, "pos", 6.0),
    Category("5912", "pharmacies", 24.0, 0.7, "pos", 5.0),
    Category("5732", "electronics", 160.0, 0.9, "pos", 2.5),
    Category("7011", "hotels", 210.0, 0.6, "pos", 1.2),
    Category("5944", "jewelry", 350.0, 1.0, "pos", 0.5),
    Category("6011", "ATM cash", 120.0, 0.6, "atm", 5.0),
    Category("5999", "online retail", 55.0, 0.9, "ecommerce", 10.0),
    Category("5964", "direct marketing", 45.0, 0.9, "ecommerce", 5.0),
    Category("4121", "rideshare", 21.0, 0.5, "ecommerce", 5.0),
    Category("4900", "utilities", 110.0, 0.5, "ecommerce", 3.0),
    Category("4511", "airlines", 420.0, 0.6, "ecommerce", 0.8),
    Category("7995", "gambling", 60.0, 1.0, "ecommerce", 0.4),
    Category("4829", "money transfer", 900.0, 1.2, "transfer", 1.2),
)

#: Share of transactions by local hour, shaped like card activity (quiet nights, busy evenings).
HOURLY_PROFILE = np.array(
    [0.6, 0.35, 0.25, 0.2, 0.25, 0.5, 1.2, 2.4, 3.6, 4.2, 4.8, 5.8,
     6.6, 6.0, 5.4, 5.2, 5.6, 6.4, 7.0, 6.8, 5.8, 4.4, 2.8, 1.4],
    dtype=np.float64,
)  # fmt: skip
HOURLY_PROFILE /= HOURLY_PROFILE.sum()
