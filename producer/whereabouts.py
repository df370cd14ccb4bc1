"""Where each card's holder is, kept in a file across producer runs so a restart moves nobody."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgspec

from producer.normal import MIN_HISTORY, NormalTraffic
from producer.world import World

logger = logging.getLogger(__name__)
HORIZON_MS = 3 * 24 * 3_600_000  # no saved time lies further ahead of the saved clock (flights, quiet)


class Whereabouts(msgspec.Struct, frozen=True):
    """Per card (index order): the holder's city, the last located event's city and time, the time
    normal traffic may resume after a fraud instance, and the count of normal transactions; and
    the event-time clock when saved (a new run starts after it, or every card would wait for it).

    The bridge keeps each card's last location in Redis. Without this a restarted producer put
    every travelling holder back home at once, and each of those cards raised impossible_travel.
    """

    world_seed: int
    clock_ms: int
    owner: list[int]
    loc: list[int]
    last: list[int]
    free: list[int]
    count: list[int]


def save(path: Path, world_seed: int, clock_ms: int, normal: NormalTraffic) -> None:
    """Write the whereabouts atomically (a crash mid-write leaves the previous file)."""
    body = Whereabouts(world_seed, clock_ms, normal.owner, normal.loc, normal.last, normal.free, normal.count)
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(msgspec.json.encode(body))
    os.replace(tmp, path)


def _fits(saved: Whereabouts, world_seed: int, world: World) -> bool:
    columns = (saved.owner, saved.loc, saved.last, saved.free, saved.count)
    n_cities = len(world.cities)
    if saved.world_seed != world_seed or any(len(column) != len(world.cards) for column in columns):
        return False
    ahead = saved.clock_ms + HORIZON_MS  # an absurd time would keep a card out of traffic for ever
    return (
        all(0 <= c < n_cities for c in (*saved.owner, *saved.loc))
        and all(t <= ahead for t in (*saved.last, *saved.free))
        and all(k >= 0 for k in saved.count)
    )


def load(path: Path, world_seed: int, world: World) -> Whereabouts | None:
    """The saved whereabouts if the file exists and was made for `world` (built from `world_seed`)."""
    try:
        saved = msgspec.json.decode(path.read_bytes(), type=Whereabouts)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        logger.warning("producer: whereabouts file ignored path=%s error=%s", path, exc)
        return None
    if not _fits(saved, world_seed, world):
        logger.warning(
            "producer: whereabouts file is for another world or out of range, ignored path=%s", path
        )
        return None
    return saved


def apply(saved: Whereabouts, normal: NormalTraffic) -> None:
    """Put every card where the saved run left it (start the new run after `saved.clock_ms`)."""
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
