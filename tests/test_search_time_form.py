"""The search form's time range: the forms it takes, how long each lasts, and its errors per field."""

from __future__ import annotations

import pytest

from dashapp.views.search_time import TIME_PLACEHOLDER, time_range

T_1400 = 1_796_565_600_000  # 2026-12-06 14:00:00 UTC
DAY, MINUTE = 86_400_000, 60_000


@pytest.mark.parametrize(
    ("since", "until", "args"),
    [
        ("2026-12-06 14:00", "2026-12-06 14:00", {"since": T_1400, "until": T_1400 + MINUTE - 1}),
        (
            "2026-12-06",
            "2026-12-06",
            {"since": T_1400 - 14 * 3_600_000, "until": T_1400 - 14 * 3_600_000 + DAY - 1},
        ),
        (" 2026-12-06 14:00:05 ", "", {"since": T_1400 + 5_000}),
        ("", "2026-12-06T14:00:05.250Z", {"until": T_1400 + 5_250}),
        ("2026-12-06 9:05", None, {"since": T_1400 - 5 * 3_600_000 + 5 * MINUTE}),
        (None, "  ", {}),
    ],
)
def test_takes_what_the_placeholder_shows_and_the_apis_iso_form(
    since: str | None, until: str | None, args: dict[str, int]
) -> None:
    got = time_range(since, until)
    assert got.errors == {}
    assert got.args == {k: str(v) for k, v in args.items()}


def test_a_bad_value_is_named_beside_its_field_with_the_format() -> None:
    got = time_range("06/12/2026 14:00", "2026-12-06 25:00")
    assert got.errors == {
        "since": f"From: “06/12/2026 14:00” is not a time. Write it as {TIME_PLACEHOLDER} (UTC).",
        "until": f"To: “2026-12-06 25:00” is not a time. Write it as {TIME_PLACEHOLDER} (UTC).",
    }


def test_to_before_from_is_an_error_on_to_and_the_same_minute_is_not() -> None:
    assert time_range("2026-12-06 14:00", "2026-12-06 13:59").errors == {"until": "To is before From."}
    assert time_range("2026-12-06 14:00:30", "2026-12-06 14:00").errors == {}


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    assert "x" * 41 not in time_range("x" * 200, None).errors["since"]
