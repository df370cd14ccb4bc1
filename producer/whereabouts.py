"""Where each card's holder is, kept in a file across producer runs so a restart moves nobody."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgspec

from producer.normal import MIN_HISTORY, NormalTraffic

logger = logging.getLogger(__name__)


class Whereabouts(msgspec.Struct, frozen=True):
    """Per card (index order): the holder's city, the last located event's city and time, the time
    normal traffic may resume after a fraud instance, and the count of normal transactions.

    The bridge keeps each card's last location in Redis. Without this a restarted producer put
    every travelling holder back home at once, and each of those cards raised impossible_travel.
    """

    world_seed: int
    owner: list[int]
    loc: list[int]
    last: list[int]
    free: list[int]
    count: list[int]


def save(path: Path, world_seed: int, normal: NormalTraffic) -> None:
    """Write the whereabouts atomically (a crash mid-write leaves the previous file)."""
    body = Whereabouts(world_seed, normal.owner, normal.loc, normal.last, normal.free, normal.count)
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(msgspec.json.encode(body))
    os.replace(tmp, path)


def restore(path: Path, world_seed: int, normal: NormalTraffic) -> bool:
    """Adopt a saved file made for this world; False when there is none or it does not fit (logged)."""
    try:
        saved = msgspec.json.decode(path.read_bytes(), type=Whereabouts)
    except FileNotFoundError:
        return False
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        logger.warning("producer: whereabouts file ignored path=%s error=%s", path, exc)
        return False
    n, cities = len(normal.owner), len(normal.world.cities)
    fits = saved.world_seed == world_seed and all(
        len(column) == n for column in (saved.owner, saved.loc, saved.last, saved.free, saved.count)
    )
    if not fits or not all(0 <= c < cities for c in (*saved.owner, *saved.loc)):
        logger.warning("producer: whereabouts file is for another world, ignored path=%s", path)
        return False
    # free: a fraud instance's card (e.g. a clone used abroad) stays off normal traffic as long as
    # it would have in one run; without it the holder resumed in the fraudster's city
    normal.owner[:], normal.loc[:], normal.last[:], normal.free[:], normal.count[:] = (
        saved.owner,
        saved.loc,
        saved.last,
        saved.free,
        saved.count,
    )
    normal.history[:] = [card for card, k in enumerate(saved.count) if k >= MIN_HISTORY]
    return True
