"""Real cities the simulated world uses, and great-circle distance between them."""

from __future__ import annotations

import math
from typing import NamedTuple

EARTH_RADIUS_KM = 6371.0


class City(NamedTuple):
    """A real city: where cards live and merchants trade."""

    name: str
    country: str  # ISO 3166-1 alpha-2
    currency: str  # ISO 4217
    lat: float
    lon: float
    weight: float  # relative share of cards living here (rough population/card use)


CITIES: tuple[City, ...] = (
    City("London", "GB", "GBP", 51.5074, -0.1278, 9.0),
    City("Manchester", "GB", "GBP", 53.4808, -2.2426, 3.0),
    City("Edinburgh", "GB", "GBP", 55.9533, -3.1883, 1.5),
    City("Dublin", "IE", "EUR", 53.3498, -6.2603, 2.0),
    City("Paris", "FR", "EUR", 48.8566, 2.3522, 7.0),
    City("Lyon", "FR", "EUR", 45.764, 4.8357, 2.0),
    City("Berlin", "DE", "EUR", 52.52, 13.405, 5.0),
    City("Munich", "DE", "EUR", 48.1351, 11.582, 3.0),
    City("Hamburg", "DE", "EUR", 53.5511, 9.9937, 2.5),
    City("Amsterdam", "NL", "EUR", 52.3676, 4.9041, 3.0),
    City("Brussels", "BE", "EUR", 50.8503, 4.3517, 2.0),
    City("Madrid", "ES", "EUR", 40.4168, -3.7038, 4.5),
    City("Barcelona", "ES", "EUR", 41.3874, 2.1686, 3.5),
    City("Lisbon", "PT", "EUR", 38.7223, -9.1393, 2.0),
    City("Rome", "IT", "EUR", 41.9028, 12.4964, 4.0),
    City("Milan", "IT", "EUR", 45.4642, 9.19, 3.5),
    City("Zurich", "CH", "CHF", 47.3769, 8.5417, 2.0),
    City("Vienna", "AT", "EUR", 48.2082, 16.3738, 2.5),
    City("Prague", "CZ", "CZK", 50.0755, 14.4378, 2.0),
    City("Warsaw", "PL", "PLN", 52.2297, 21.0122, 3.0),
    City("Stockholm", "SE", "SEK", 59.3293, 18.0686, 2.0),
    City("Copenhagen", "DK", "DKK", 55.6761, 12.5683, 1.5),
    City("Oslo", "NO", "NOK", 59.9139, 10.7522, 1.5),
    City("Helsinki", "FI", "EUR", 60.1699, 24.9384, 1.2),
    City("Athens", "GR", "EUR", 37.9838, 23.7275, 2.0),
    City("Istanbul", "TR", "TRY", 41.0082, 28.9784, 4.0),
    City("Dubai", "AE", "AED", 25.2048, 55.2708, 2.0),
    City("New York", "US", "USD", 40.7128, -74.006, 8.0),
    City("Chicago", "US", "USD", 41.8781, -87.6298, 4.0),
    City("Los Angeles", "US", "USD", 34.0522, -118.2437, 5.0),
    City("San Francisco", "US", "USD", 37.7749, -122.4194, 3.0),
    City("Miami", "US", "USD", 25.7617, -80.1918, 2.5),
    City("Toronto", "CA", "CAD", 43.6532, -79.3832, 3.5),
    City("Mexico City", "MX", "MXN", 19.4326, -99.1332, 4.0),
    City("Sao Paulo", "BR", "BRL", -23.5505, -46.6333, 4.0),
    City("Buenos Aires", "AR", "ARS", -34.6037, -58.3816, 2.5),
    City("Tokyo", "JP", "JPY", 35.6762, 139.6503, 6.0),
    City("Seoul", "KR", "KRW", 37.5665, 126.978, 3.5),
    City("Singapore", "SG", "SGD", 1.3521, 103.8198, 2.5),
    City("Hong Kong", "HK", "HKD", 22.3193, 114.1694, 2.5),
    City("Sydney", "AU", "AUD", -33.8688, 151.2093, 3.0),
    City("Mumbai", "IN", "INR", 19.076, 72.8777, 4.0),
    City("Johannesburg", "ZA", "ZAR", -26.2041, 28.0473, 2.0),
)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def distance_matrix(cities: tuple[City, ...]) -> tuple[tuple[float, ...], ...]:
    """All pairwise distances in km, indexed [i][j]."""
    return tuple(tuple(haversine_km(a.lat, a.lon, b.lat, b.lon) for b in cities) for a in cities)
