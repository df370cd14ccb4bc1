"""Great-circle distance for the impossible-travel rule."""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in km between two points given in degrees."""
    p1, p2 = radians(lat1), radians(lat2)
    h = sin((p2 - p1) * 0.5) ** 2 + cos(p1) * cos(p2) * sin(radians(lon2 - lon1) * 0.5) ** 2
    return 2.0 * EARTH_RADIUS_KM * asin(sqrt(min(1.0, h)))
